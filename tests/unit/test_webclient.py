"""The web client is served precompressed, cached by kind of file, and never outside its build."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pigeon.platform import webclient
from pigeon.platform.webclient import (
    IMMUTABLE,
    REVALIDATE,
    WebClient,
    default_web_dir,
    encoding_weights,
    serve_web_client,
)

INDEX = b'<!doctype html><div id="app"></div><script src="/assets/index-abc123.js"></script>'
SCRIPT = b"console.log('pigeon');" * 50
FAKE_BROTLI = b"brotli bytes of the script"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A client build as Vite writes it: hashed assets with .br and .gz beside them."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "index.html.gz").write_bytes(gzip.compress(INDEX))
    (dist / "favicon.svg").write_bytes(b"<svg/>")
    script = dist / "assets" / "index-abc123.js"
    script.write_bytes(SCRIPT)
    script.with_name(script.name + ".br").write_bytes(FAKE_BROTLI)
    script.with_name(script.name + ".gz").write_bytes(gzip.compress(SCRIPT))
    (dist / "assets" / "logo-def456.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "secret.txt").write_bytes(b"outside the build")
    (dist / "assets" / "escape.js").symlink_to(tmp_path / "secret.txt")
    return dist


@pytest.fixture
async def http(build: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    serve_web_client(app, build)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pigeon.test") as client:
        yield client


async def raw_get(http: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    """A GET whose body stays as sent (httpx would otherwise decode gzip)."""
    async with http.stream("GET", path, headers=headers) as response:
        response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    return response


async def test_brotli_is_preferred_when_accepted(http: httpx.AsyncClient) -> None:
    response = await raw_get(http, "/assets/index-abc123.js", **{"accept-encoding": "gzip, br"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "br"
    assert response.content == FAKE_BROTLI
    assert response.headers["content-length"] == str(len(FAKE_BROTLI))
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["cache-control"] == IMMUTABLE


async def test_gzip_when_brotli_is_not_accepted(http: httpx.AsyncClient) -> None:
    for accept in ("gzip", "br;q=0, gzip;q=0.5", "gzip, deflate"):
        response = await raw_get(http, "/assets/index-abc123.js", **{"accept-encoding": accept})
        assert response.headers["content-encoding"] == "gzip", accept
        assert gzip.decompress(response.content) == SCRIPT
        assert response.headers["content-length"] == str(len(response.content))


async def test_identity_without_accept_encoding(http: httpx.AsyncClient) -> None:
    for accept in ("identity", "br;q=0, gzip;q=0", "deflate"):
        response = await raw_get(http, "/assets/index-abc123.js", **{"accept-encoding": accept})
        assert "content-encoding" not in response.headers, accept
        assert response.content == SCRIPT
        assert response.headers["content-length"] == str(len(SCRIPT))
        assert response.headers["vary"] == "Accept-Encoding"


async def test_wildcard_accepts_brotli() -> None:
    assert encoding_weights("*") == {"*": 1.0}
    assert encoding_weights("gzip;q=0.8, br;q=bad,  ") == {"gzip": 0.8, "br": 0.0}


async def test_each_encoding_has_its_own_etag_and_revalidates(http: httpx.AsyncClient) -> None:
    etags = set()
    for accept in ("br", "gzip", "identity"):
        first = await raw_get(http, "/assets/index-abc123.js", **{"accept-encoding": accept})
        etag = first.headers["etag"]
        etags.add(etag)
        again = await raw_get(
            http, "/assets/index-abc123.js", **{"accept-encoding": accept, "if-none-match": etag}
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == IMMUTABLE
        weak = await raw_get(
            http,
            "/assets/index-abc123.js",
            **{"accept-encoding": accept, "if-none-match": f'"other", W/{etag}'},
        )
        assert weak.status_code == 304
    assert len(etags) == 3
    stale = await raw_get(
        http, "/assets/index-abc123.js", **{"accept-encoding": "identity", "if-none-match": '"x"'}
    )
    assert stale.status_code == 200
    assert stale.content == SCRIPT


async def test_missing_asset_is_404_not_the_app(http: httpx.AsyncClient) -> None:
    response = await http.get("/assets/index-gone999.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_client_routes_get_index_without_caching(http: httpx.AsyncClient) -> None:
    for path in ("/", "/index.html", "/login", "/c/42/settings"):
        response = await raw_get(http, path, **{"accept-encoding": "br, gzip"})
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == REVALIDATE
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["content-encoding"] == "gzip"  # no index.html.br was built
        assert gzip.decompress(response.content) == INDEX
    root = await http.get("/")
    revalidated = await http.get("/login", headers={"if-none-match": root.headers["etag"]})
    assert revalidated.status_code == 304
    assert revalidated.headers["cache-control"] == REVALIDATE


async def test_other_top_level_files_are_revalidated(http: httpx.AsyncClient) -> None:
    response = await http.get("/favicon.svg")
    assert response.content == b"<svg/>"
    assert response.headers["cache-control"] == REVALIDATE
    assert "vary" not in response.headers  # nothing to negotiate


async def test_head_sends_headers_only(http: httpx.AsyncClient) -> None:
    response = await http.head("/assets/index-abc123.js", headers={"accept-encoding": "br"})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(FAKE_BROTLI))


@pytest.mark.parametrize(
    "path",
    [
        "/assets/..%2F..%2Fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e/secret.txt",
        "/assets/escape.js",
        "/assets/index-abc123.js.br",
    ],
)
async def test_nothing_outside_the_build_is_served(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert b"outside the build" not in response.content
    assert response.content != FAKE_BROTLI
    if path.startswith("/assets/"):
        assert response.status_code == 404
    else:
        assert response.content == INDEX


async def test_api_and_socket_paths_are_not_the_app(http: httpx.AsyncClient) -> None:
    for path in ("/api/v1/nothing", "/ws", "/files/x"):
        response = await http.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_a_build_without_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"index\.html"):
        WebClient(tmp_path)


def test_without_a_build_the_root_says_so(tmp_path: Path) -> None:
    app = FastAPI()
    serve_web_client(app, tmp_path)
    paths = {getattr(route, "path", None) for route in app.routes}
    assert "/" in paths
    assert "/{path:path}" not in paths


def test_checkout_build_comes_before_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout, packaged = tmp_path / "web" / "dist", tmp_path / "pigeon" / "web_dist"
    monkeypatch.setattr(webclient, "CHECKOUT_WEB_DIR", checkout)
    monkeypatch.setattr(webclient, "PACKAGED_WEB_DIR", packaged)
    assert default_web_dir() is None
    packaged.mkdir(parents=True)
    (packaged / "index.html").write_bytes(INDEX)
    assert default_web_dir() == packaged
    checkout.mkdir(parents=True)
    (checkout / "index.html").write_bytes(INDEX)
    assert default_web_dir() == checkout
