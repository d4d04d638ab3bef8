"""The HTTP edge against a hostile client: forged forwarded headers, huge integers,
chunked bodies over the limit, headers that keep the web app from being framed or cached,
and slow-loris connections (on a server of its own, with short deadlines)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, unique_name
from tests.harness import ServerProcess, free_port, start_embedded

pytestmark = pytest.mark.asyncio

API = "/api/v1"
BIG = [2**63, 2**64, 10**30]


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        yield client


async def _register(http: httpx.AsyncClient) -> dict[str, str]:
    reply = await http.post(
        f"{API}/auth/register", json={"username": unique_name(), "password": PASSWORD}
    )
    assert reply.status_code == 201, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def test_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_login_brake(
    http: httpx.AsyncClient,
) -> None:
    name = unique_name()
    await http.post(f"{API}/auth/register", json={"username": name, "password": PASSWORD})
    statuses = []
    for attempt in range(12):
        headers = {
            "X-Forwarded-For": f"203.0.113.{attempt + 1}",
            "X-Real-IP": f"198.51.100.{attempt + 1}",
            "Forwarded": f"for=192.0.2.{attempt + 1}",
        }
        reply = await http.post(
            f"{API}/auth/login",
            json={"username": name, "password": "Wrong-pass1"},
            headers=headers,
        )
        statuses.append(reply.status_code)
    # The peer (127.0.0.1) is no trusted proxy: every guess counts against one address.
    assert statuses[-1] == 429, statuses
    assert reply.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("big", BIG)
async def test_integers_past_64_bits_are_refused_with_422(
    http: httpx.AsyncClient, server: ServerProcess, big: int
) -> None:
    auth = await _register(http)
    log_from = len(server.log())
    message = {"client_msg_id": unique_name("m"), "body": {"text": "hi"}}
    attempts = [
        ("POST", f"{API}/messages/private", {**message, "to_user_id": big}),
        ("POST", f"{API}/messages/private", {**message, "to_user_id": 1, "mentions": [big]}),
        ("POST", f"{API}/conversations/1/messages", {**message, "mentions": [big]}),
        ("POST", f"{API}/conversations/private", {"user_id": big}),
        ("POST", f"{API}/conversations/1/read", {"seq": big}),
        ("POST", f"{API}/friends/requests", {"user_id": big}),
        ("POST", f"{API}/presence/query", {"user_ids": [big]}),
        ("GET", f"{API}/users/{big}", None),
        ("GET", f"{API}/conversations/{big}/messages?after={big}", None),
    ]
    for method, path, body in attempts:
        reply = await http.request(method, path, json=body, headers=auth)
        assert reply.status_code == 422, (path, reply.status_code, reply.text)
        assert reply.json()["error"]["code"] == "invalid_request"
    written = server.log()[log_from:]  # the shared server's log, from this test on
    assert "OverflowError" not in written
    assert "Traceback" not in written


async def test_chunked_body_over_the_limit_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(160):
            yield b" " * 8192  # 1.25 MiB of whitespace, no Content-Length

    reply = await http.post(
        f"{API}/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"]["code"] == "payload_too_large"


async def test_token_responses_are_never_cached(http: httpx.AsyncClient) -> None:
    name = unique_name()
    replies = [
        await http.post(f"{API}/auth/register", json={"username": name, "password": PASSWORD})
    ]
    replies.append(
        await http.post(f"{API}/auth/login", json={"username": name, "password": PASSWORD})
    )
    refresh = replies[-1].json()["refresh_token"]
    replies.append(await http.post(f"{API}/auth/refresh", json={"refresh_token": refresh}))
    for reply in replies:
        assert reply.status_code in (200, 201), reply.text
        assert reply.headers["cache-control"] == "no-store"
        assert reply.headers["pragma"] == "no-cache"


async def test_gateway_url_ignores_forwarded_host_from_untrusted_peer(
    http: httpx.AsyncClient, server: ServerProcess
) -> None:
    reply = await http.get(
        f"{API}/gateway",
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    assert reply.status_code == 200
    url = reply.json()["url"]
    assert "evil.example" not in url
    assert url.startswith(("ws://127.0.0.1", "wss://")), url
    assert reply.headers["cache-control"] == "no-store"


async def test_web_app_and_api_send_security_headers(http: httpx.AsyncClient) -> None:
    for path in ("/", "/docs", f"{API}/users/me", "/some/client/route"):
        reply = await http.get(path)
        csp = reply.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
    assert (await http.get(f"{API}/users/me")).headers["cache-control"] == "no-store"


async def test_docs_load_their_assets_from_this_server(http: httpx.AsyncClient) -> None:
    page = await http.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "<script>" not in page.text  # no inline script: the CSP allows none
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        reply = await http.get(asset)
        assert reply.status_code == 200, asset
        assert len(reply.content) > 10_000
    assert (await http.get("/docs/init.js")).status_code == 200


async def test_the_built_web_client_is_served_precompressed(http: httpx.AsyncClient) -> None:
    built = Path(__file__).resolve().parents[2] / "web" / "dist"
    assert (built / "index.html").is_file(), "web/dist is missing: run scripts/setup"
    index = await http.get("/c/1", headers={"accept-encoding": "identity"})
    assert index.content == (built / "index.html").read_bytes()
    assert index.headers["cache-control"] == "no-cache"
    script = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
    assert script is not None
    async with http.stream("GET", script[1], headers={"accept-encoding": "gzip, br"}) as reply:
        body = b"".join([chunk async for chunk in reply.aiter_raw()])
    assert reply.headers["content-encoding"] == "br"
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert body == (built / script[1].lstrip("/")).with_suffix(".js.br").read_bytes()
    revalidate = {"accept-encoding": "gzip, br", "if-none-match": reply.headers["etag"]}
    assert (await http.get(script[1], headers=revalidate)).status_code == 304
    assert (await http.get("/assets/index-00000000.js")).status_code == 404


# --- slow-loris, connection cap and /metrics, on a server of their own -------------------

EDGE_CAP = 6
METRICS_TOKEN = "metrics-secret-1"


@pytest.fixture(scope="module")
def edge_server() -> Iterator[tuple[ServerProcess, int]]:
    metrics_port = free_port()
    process = start_embedded(
        {
            "PIGEON_HTTP__HEADER_TIMEOUT_S": "1",
            "PIGEON_HTTP__BODY_TIMEOUT_S": "1.5",
            "PIGEON_HTTP__MAX_CONNECTIONS_PER_CLIENT": str(EDGE_CAP),
            "PIGEON_HTTP__METRICS_TOKEN": METRICS_TOKEN,
            "PIGEON_HTTP__METRICS_PORT": str(metrics_port),
        }
    )
    try:
        yield process, metrics_port
    finally:
        process.stop()


def _port(process: ServerProcess) -> int:
    return int(process.http_url.rsplit(":", 1)[1])


async def _read_until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    async with asyncio.timeout(within):
        return await reader.read()


async def test_slow_headers_and_bodies_are_cut_off(
    edge_server: tuple[ServerProcess, int],
) -> None:
    process, _metrics_port = edge_server
    port = _port(process)
    started = time.monotonic()
    streams = []
    for _ in range(2):  # headers a line at a time, never finished
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        streams.append((reader, writer, b"X-Slow: 1\r\n"))
    for _ in range(2):  # a body of 100 kB, dribbled
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        )
        streams.append((reader, writer, b" "))

    async def dribble() -> None:
        for _ in range(10):
            await asyncio.sleep(0.3)
            for _reader, writer, filler in streams:
                if not writer.is_closing():
                    writer.write(filler)

    dribbler = asyncio.create_task(dribble())
    try:
        answers = await asyncio.gather(*(_read_until_closed(r, 6) for r, _, _ in streams))
    finally:
        dribbler.cancel()
        for _reader, writer, _filler in streams:
            writer.close()
    assert time.monotonic() - started < 6
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"request_timeout"' in answer
    assert "Traceback" not in process.log()


async def test_connections_per_address_are_capped(
    edge_server: tuple[ServerProcess, int],
) -> None:
    process, _metrics_port = edge_server
    port = _port(process)
    await asyncio.sleep(1.2)  # earlier tests' sockets are gone
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(EDGE_CAP)]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await _read_until_closed(reader, 3)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 429"), answer[:200]
        assert b'"too_many_connections"' in answer
    finally:
        for _reader, held_writer in held:
            held_writer.close()
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(base_url=process.http_url) as client:
        assert (await client.get("/healthz")).status_code == 200


async def test_metrics_need_the_token_and_their_own_listener(
    edge_server: tuple[ServerProcess, int],
) -> None:
    process, metrics_port = edge_server
    metrics_url = f"http://127.0.0.1:{metrics_port}"
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with httpx.AsyncClient(timeout=5) as client:
        on_main = await client.get(process.http_url + "/metrics", headers=auth)
        assert on_main.status_code == 404
        anonymous = await client.get(metrics_url + "/metrics")
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        wrong = await client.get(metrics_url + "/metrics", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        good = await client.get(metrics_url + "/metrics", headers=auth)
        assert good.status_code == 200
        assert "pigeon_http_requests" in good.text
        api = await client.get(metrics_url + f"{API}/gateway")
        assert api.status_code == 404
