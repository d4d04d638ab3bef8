"""Client-side frames of the two dialects the load generator speaks (no I/O).

``relay``: the bare relay of :mod:`bench.relay` (``{"to": peer, ...}`` frames, forwarded as is).
``pigeon``: Pigeon's WebSocket protocol (``docs/protocol.md`` / the wire contract).

Both carry the same ``send`` frame body: a text whose head is ``"<n>:<send time ns>:"``
followed by padding, so the receiver can compute end-to-end latency and check order.
The frame sizes on the wire are within a few bytes of each other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

Dialect = Literal["relay", "pigeon"]

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Ack:
    n: int
    seq: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    n: int
    sent_ns: int
    seq: int
    sender_id: int | None


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    n: int | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Other:
    type: str
    frame: Any


Event = Ack | Delivery | ErrorFrame | Other


def client_msg_id(run_id: int, pair: int, n: int) -> str:
    """A UUID-shaped client message id that names run, pair and message number."""
    return str(uuid.UUID(int=(run_id & 0xFFFFFFFF) << 96 | (pair & 0xFFFFFFFF) << 64 | n))


def make_text(n: int, sent_ns: int, size: int) -> str:
    head = f"{n}:{sent_ns}:"
    return head + "x" * max(0, size - len(head))


def parse_text(text: str) -> tuple[int, int]:
    n, sent_ns, _ = text.split(":", 2)
    return int(n), int(sent_ns)


def auth_frame(dialect: Dialect, *, relay_id: int = 0, token: str = "") -> str:
    if dialect == "relay":
        return _encoder.encode({"type": "auth", "id": relay_id}).decode()
    return _encoder.encode({"type": "auth", "token": token, "device": "web"}).decode()


def send_frame(dialect: Dialect, *, to: int, n: int, cid: str, sent_ns: int, size: int) -> str:
    frame: dict[str, Any] = {
        "type": "send",
        "ref": str(n),
        "client_msg_id": cid,
        "kind": "text",
        "body": {"text": make_text(n, sent_ns, size)},
    }
    if dialect == "relay":
        frame["to"] = to
    else:
        frame["to_user_id"] = to
    return _encoder.encode(frame).decode()


PING = '{"type":"ping"}'


def decode(raw: str | bytes) -> Any:
    return _decoder.decode(raw)


def classify(dialect: Dialect, raw: str | bytes) -> Event:
    """Turn one received frame into an event the load generator understands."""
    frame = _decoder.decode(raw)
    if not isinstance(frame, dict):
        return Other("not_an_object", frame)
    kind = frame.get("type")
    if kind == "ack":
        return Ack(_ref_number(frame.get("ref")), frame.get("seq"))
    if kind == "error":
        ref = frame.get("ref")
        return ErrorFrame(
            _ref_number(ref) if ref is not None else None,
            str(frame.get("code")),
            str(frame.get("message")),
        )
    if dialect == "relay" and kind == "send":
        n, sent_ns = parse_text(frame["body"]["text"])
        return Delivery(n, sent_ns, n, None)
    if dialect == "pigeon" and kind == "message":
        message = frame["message"]
        n, sent_ns = parse_text(message["body"]["text"])
        return Delivery(n, sent_ns, int(message["seq"]), message.get("sender_id"))
    return Other(str(kind), frame)


def _ref_number(ref: Any) -> int:
    try:
        return int(ref)
    except (TypeError, ValueError):
        return -1


def encode(frame: dict[str, Any]) -> str:
    return _encoder.encode(frame).decode()
