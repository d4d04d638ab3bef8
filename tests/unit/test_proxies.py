"""Whom to believe about the client's address: the peer, or a trusted proxy."""

from __future__ import annotations

import pytest

from pigeon.platform.proxies import TrustedProxies

PROXIES = TrustedProxies(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        # Not a proxy: forwarded headers are the client's own words.
        ("203.0.113.9", {"x-forwarded-for": "1.2.3.4"}, "203.0.113.9"),
        ("203.0.113.9", {"x-real-ip": "1.2.3.4"}, "203.0.113.9"),
        ("203.0.113.9", {"forwarded": "for=1.2.3.4"}, "203.0.113.9"),
        # A trusted proxy: the nearest address that is not one of ours.
        ("10.0.0.5", {"x-forwarded-for": "1.2.3.4"}, "1.2.3.4"),
        ("10.0.0.5", {"x-forwarded-for": "6.6.6.6, 1.2.3.4, 10.0.0.7"}, "1.2.3.4"),
        ("10.0.0.5", {"x-real-ip": "1.2.3.4"}, "1.2.3.4"),
        ("::1", {"forwarded": 'for="[2001:db8::1]:443";proto=https'}, "2001:db8::1"),
        ("10.0.0.5", {"forwarded": "for=1.2.3.4:5555"}, "1.2.3.4"),
        # Garbage from a trusted proxy: fall back to the peer.
        ("10.0.0.5", {"x-forwarded-for": "not-an-ip"}, "10.0.0.5"),
        ("10.0.0.5", {}, "10.0.0.5"),
    ],
)
def test_client_address(peer: str, headers: dict[str, str], client: str) -> None:
    assert PROXIES.client(peer, headers) == client


def test_no_trusted_proxies_means_the_peer() -> None:
    assert TrustedProxies().client("10.0.0.5", {"x-forwarded-for": "1.2.3.4"}) == "10.0.0.5"


def test_scheme_and_host_only_from_a_trusted_proxy() -> None:
    headers = {"x-forwarded-proto": "https", "x-forwarded-host": "chat.example.com"}
    assert PROXIES.scheme_and_host("203.0.113.9", headers, "http", "a:1") == ("http", "a:1")
    assert PROXIES.scheme_and_host("10.1.2.3", headers, "http", "a:1") == (
        "https",
        "chat.example.com",
    )
