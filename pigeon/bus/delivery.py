"""The unit of work a gateway's queue carries."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec


class Delivery(msgspec.Struct, frozen=True):
    """A frame for some users connected to one gateway.

    ``frame`` is the encoded server frame, serialised once however many sockets it reaches.
    ``targets`` (user id, device id) narrows it to those devices of the users, each on all
    of its sockets (hot-group notices are owed per device).
    ``exclude_connection`` skips the socket that caused it (the sender gets an ack instead).
    ``close_connection`` / ``close_sessions`` ask the gateway to send ``frame`` as last words
    to that socket, or to the users' sockets of those auth sessions, and close them with
    ``close_code`` (a device logged out, a revoked session).
    """

    frame: str
    user_ids: list[int]
    exclude_connection: str | None = None
    close_connection: str | None = None
    close_sessions: list[str] = []
    close_code: int = 0
    queued_at: int = 0
    targets: list[tuple[int, str]] = []


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Delivery)


def encode_delivery(delivery: Delivery) -> bytes:
    return _encoder.encode(delivery)


def decode_delivery(data: bytes | str) -> Delivery:
    return _decoder.decode(data)


@dataclass(frozen=True)
class Location:
    """Where one socket of a user is: its gateway, the device it belongs to (the device id,
    which is the login session's id) and the device's kind (web, desktop, mobile).

    A user has any number of these (up to ``gateway.max_connections_per_user``): several
    devices, and several sockets of one device (tabs of one browser)."""

    gateway_id: str
    device: str
    connection_id: str
    kind: str = "web"
