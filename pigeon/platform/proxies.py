"""Who the client is: the peer address, or what a trusted proxy says it forwarded.

Forwarded headers are believed only from peers listed in ``http.trusted_proxies``;
anyone else could write any address into them, so from anyone else the TCP peer is the
client (and the scheme and host are what the request itself says).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """A set of addresses and CIDRs (``10.0.0.0/8``, ``::1``) whose forwarded headers count."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks: list[Network] = [
            ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()
        ]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        if not self.networks:
            return False
        parsed = _parse_ip(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str, headers: dict[str, str]) -> str:
        """The client address for a request from ``peer`` with these (lower-case) headers."""
        if not self.trusts(peer):
            return peer
        chain = _forwarded_for(headers)
        if chain:
            # Walk back from the nearest hop: the first address not one of our proxies is
            # the client (anything further left was written by the client itself).
            for address in reversed(chain):
                if not self.trusts(address):
                    return address
            return chain[0]
        real = headers.get("x-real-ip", "").strip()
        if real and _parse_ip(real) is not None:
            return real
        return peer

    def scheme_and_host(
        self, peer: str, headers: dict[str, str], scheme: str, host: str
    ) -> tuple[str, str]:
        """The scheme and host the client used: forwarded ones only from a trusted proxy."""
        if not self.trusts(peer):
            return scheme, host
        forwarded = _forwarded_pairs(headers.get("forwarded", ""))
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip()
        proto = proto or (forwarded[0].get("proto", "") if forwarded else "")
        fwd_host = headers.get("x-forwarded-host", "").split(",")[0].strip()
        fwd_host = fwd_host or (forwarded[0].get("host", "") if forwarded else "")
        return (proto.lower() or scheme), (fwd_host or host)


def client_address(connection: HTTPConnection) -> str:
    """The client's address for a request or WebSocket: what brakes and logs key on.

    The TCP peer, unless the peer is a trusted proxy (``http.trusted_proxies``), in which
    case the nearest untrusted address of ``X-Forwarded-For`` / ``Forwarded``, else
    ``X-Real-IP``. Empty if the server does not know the peer.
    """
    peer = connection.client.host if connection.client else ""
    proxies = _proxies_of(connection)
    if not proxies:
        return peer
    return proxies.client(peer, _headers(connection))


def public_origin(connection: HTTPConnection) -> tuple[str, str]:
    """``(scheme, host)`` the client reached us at, believing forwarded headers only from a
    trusted proxy."""
    peer = connection.client.host if connection.client else ""
    host = connection.headers.get("host") or (
        f"{connection.url.hostname}:{connection.url.port}"
        if connection.url.port
        else str(connection.url.hostname or "")
    )
    scheme = connection.url.scheme
    proxies = _proxies_of(connection)
    if not proxies:
        return scheme, host
    return proxies.scheme_and_host(peer, _headers(connection), scheme, host)


def _proxies_of(connection: HTTPConnection) -> TrustedProxies | None:
    found = getattr(connection.app.state, "trusted_proxies", None)
    return found if isinstance(found, TrustedProxies) else None


def _headers(connection: HTTPConnection) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in connection.headers.items():
        # Repeated headers are one comma-separated list, in the order they came.
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]  # IPv4 with a port
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _forwarded_for(headers: dict[str, str]) -> list[str]:
    """Client-to-proxy chain from ``X-Forwarded-For`` or else ``Forwarded: for=``."""
    raw = headers.get("x-forwarded-for", "")
    if raw:
        items = [item.strip() for item in raw.split(",")]
    else:
        items = [pair.get("for", "") for pair in _forwarded_pairs(headers.get("forwarded", ""))]
    chain = []
    for item in items:
        parsed = _parse_ip(item)
        if parsed is None:
            return []  # an unparseable hop: believe none of it
        chain.append(str(parsed))
    return chain


def _forwarded_pairs(raw: str) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded``: one dict of lower-case keys per hop."""
    hops = []
    for element in raw.split(","):
        pairs: dict[str, str] = {}
        for part in element.split(";"):
            key, sep, value = part.partition("=")
            if sep:
                pairs[key.strip().lower()] = value.strip().strip('"')
        if pairs:
            hops.append(pairs)
    return hops
