"""The built web client, served from memory with the encodings the build precompressed.

The Vite build writes ``name.br`` and ``name.gz`` beside each file. :class:`WebClient` reads
the whole build once at start (a few hundred kilobytes), so a request costs a dictionary
lookup: no compression, no disk access. Files under ``/assets`` carry a content hash in
their name and are cached for good; everything else (``index.html``, which every client
route also answers with) is revalidated each time by its ETag. A rebuilt client is picked
up at the next start.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from pigeon import __version__
from pigeon.platform.errors import error_response

log = structlog.get_logger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

#: Precompressed siblings, in the order the server prefers them.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
_COMPRESSED_SUFFIXES = tuple(suffix for _, suffix in ENCODINGS)

_PACKAGE = Path(__file__).resolve().parents[1]
#: Where a wheel carries the client (see ``hatch_build.py``).
PACKAGED_WEB_DIR = _PACKAGE / "web_dist"
#: Where a source checkout builds it (``cd web && npm run build``).
CHECKOUT_WEB_DIR = _PACKAGE.parent / "web" / "dist"


def default_web_dir() -> Path | None:
    """The client to serve without ``--web-dir``: a source checkout's own build (so an
    editable install serves what ``npm run build`` just wrote), else the one packaged in
    the wheel."""
    for candidate in (CHECKOUT_WEB_DIR, PACKAGED_WEB_DIR):
        if (candidate / "index.html").is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Representation:
    """One encoding of a file: its bytes and the strong ETag that names them."""

    body: bytes
    etag: str
    encoding: str | None


@dataclass(frozen=True)
class StaticFile:
    media_type: str
    cache_control: str
    representations: dict[str, Representation]  # "identity", "br", "gzip"

    def pick(self, accept_encoding: str) -> Representation:
        """The best representation the client accepts: br, then gzip, then identity."""
        weights = encoding_weights(accept_encoding)
        for name, _ in ENCODINGS:
            if name in self.representations and weights.get(name, weights.get("*", 0.0)) > 0:
                return self.representations[name]
        return self.representations["identity"]


def serve_web_client(app: FastAPI, configured: Path | None) -> None:
    """Answer every path the API does not with the client (or a note that none is built)."""
    web_dir = configured or default_web_dir()
    if web_dir is None or not (web_dir / "index.html").exists():
        log.info("web_client_not_built", directory=str(web_dir) if web_dir else None)

        @app.get("/", include_in_schema=False)
        async def no_client() -> JSONResponse:
            return JSONResponse(
                {
                    "name": "Pigeon",
                    "version": __version__,
                    "web_client": "not built",
                    "docs": "/docs",
                }
            )

        return
    client = WebClient(web_dir)
    log.info("web_client_served", directory=str(web_dir), files=len(client.files))

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def web_client(request: Request, path: str) -> Response:
        if path.startswith(("api/", "ws", "files/")):
            return error_response(404, "not_found", "no such endpoint")
        return client.respond(request, path)


class WebClient:
    """The files of one client build, keyed by their path relative to the build root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = _read_build(root)
        self.index = self.files["index.html"]

    def respond(self, request: Request, path: str) -> Response:
        """A file of the build, 404 for a missing hashed asset, else ``index.html`` (a
        client route)."""
        found = self.files.get(path)
        if found is None and path.startswith("assets/"):
            return error_response(404, "not_found", f"no such asset: /{path}")
        return _respond_with(request, found or self.index)


def _respond_with(request: Request, file: StaticFile) -> Response:
    chosen = file.pick(request.headers.get("accept-encoding", ""))
    headers = {"Cache-Control": file.cache_control, "ETag": chosen.etag}
    if len(file.representations) > 1:
        headers["Vary"] = "Accept-Encoding"
    if _matches(request.headers.get("if-none-match"), chosen.etag):
        return Response(status_code=304, headers=headers)
    if chosen.encoding is not None:
        headers["Content-Encoding"] = chosen.encoding
    body = b"" if request.method == "HEAD" else chosen.body
    response = Response(body, headers=headers, media_type=file.media_type)
    response.headers["Content-Length"] = str(len(chosen.body))
    return response


def encoding_weights(header: str) -> dict[str, float]:
    """Parse ``Accept-Encoding`` (RFC 9110 12.5.3): coding name -> q-value."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding] = weight
    return weights


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as If-None-Match asks for (RFC 9110 13.1.2)."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _read_build(root: Path) -> dict[str, StaticFile]:
    root = root.resolve()
    files: dict[str, StaticFile] = {}
    for path in sorted(root.rglob("*")):
        if path.name.endswith(_COMPRESSED_SUFFIXES) or not _is_file_inside(path, root):
            continue
        relative = path.relative_to(root).as_posix()
        files[relative] = _read_file(path, relative)
    if "index.html" not in files:
        raise FileNotFoundError(f"no index.html in the web client build {root}")
    return files


def _read_file(path: Path, relative: str) -> StaticFile:
    identity = path.read_bytes()
    tag = hashlib.sha256(identity).hexdigest()[:20]
    representations = {"identity": Representation(identity, f'"{tag}"', None)}
    for name, suffix in ENCODINGS:
        sibling = path.with_name(path.name + suffix)
        if sibling.is_file():
            representations[name] = Representation(sibling.read_bytes(), f'"{tag}-{name}"', name)
    hashed = relative.startswith("assets/")
    return StaticFile(_media_type(path), IMMUTABLE if hashed else REVALIDATE, representations)


def _is_file_inside(path: Path, root: Path) -> bool:
    """Regular files only, and none that a symlink leads out of the build."""
    return path.is_file() and path.resolve().is_relative_to(root)


def _media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    media_type = guessed or "application/octet-stream"
    if path.suffix in (".js", ".mjs"):
        media_type = "text/javascript"
    if media_type.startswith("text/") or media_type in ("image/svg+xml", "application/json"):
        media_type += "; charset=utf-8"
    return media_type
