"""The ASGI app. One factory serves every process kind: API, gateway, or both (embedded)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles

from pigeon import __version__
from pigeon.gateway.endpoint import serve_socket
from pigeon.platform.errors import error_response, install_error_handlers
from pigeon.platform.limits import BodyLimit
from pigeon.platform.observe import RequestMetrics
from pigeon.platform.routes import auth, conversations, friends, groups, users
from pigeon.platform.routes import gateway as gateway_routes
from pigeon.platform.routes import presence as presence_routes
from pigeon.platform.routes import service as service_routes
from pigeon.platform.routes import uploads as upload_routes
from pigeon.runtime import Runtime

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024


def create_app(runtime: Runtime, *, with_api: bool = True) -> FastAPI:
    """Build the app around a runtime; the runtime starts and stops with it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Pigeon",
        version=__version__,
        summary="HTTP API of the Pigeon instant-messaging server",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.ctx = runtime.ctx
    app.state.runtime = runtime
    install_error_handlers(app)
    _add_operations(app, runtime)
    if with_api:
        for module in (auth, users, conversations, friends, groups):
            app.include_router(module.router, prefix=API_PREFIX)
        for module in (gateway_routes, presence_routes):
            app.include_router(module.router, prefix=API_PREFIX)
        app.include_router(service_routes.router, prefix=API_PREFIX)
        app.include_router(upload_routes.router, prefix=API_PREFIX)
        app.include_router(upload_routes.files_router)
    if runtime.gateway is not None:
        gateway = runtime.gateway

        @app.websocket("/ws")
        async def websocket_endpoint(websocket: WebSocket) -> None:
            await serve_socket(gateway, websocket)

    if with_api:
        _refuse_unknown_api_paths(app)
        _serve_web_client(app, runtime.settings.web_dir)
    upload_limit = runtime.settings.uploads.max_bytes + 64 * 1024
    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    app.add_middleware(
        BodyLimit, max_bytes=MAX_BODY_BYTES, larger={API_PREFIX + "/uploads": upload_limit}
    )
    return app


def _add_operations(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/healthz", tags=["operations"], include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], include_in_schema=False)
    async def readyz() -> Response:
        """Readiness: the database and Redis (if any) answer and the gateway (if any) is
        not draining."""
        try:
            async with runtime.db.read() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except Exception:
            return error_response(503, "unavailable", "database unreachable")
        if not await runtime.bus_ready():
            return error_response(503, "unavailable", "redis unreachable")
        if runtime.gateway is not None and runtime.gateway.draining:
            return error_response(503, "unavailable", "draining")
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")


def _refuse_unknown_api_paths(app: FastAPI) -> None:
    """Unknown API paths are 404 ``not_found`` for every method, not the web client."""

    @app.api_route(
        API_PREFIX + "/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def unknown_api_path(path: str) -> Response:
        return error_response(404, "not_found", f"no such endpoint: /{path}")


def default_web_dir() -> Path | None:
    """``web/dist`` of a source checkout, if it was built."""
    candidate = Path(__file__).resolve().parents[2] / "web" / "dist"
    return candidate if (candidate / "index.html").exists() else None


def _serve_web_client(app: FastAPI, configured: Path | None) -> None:
    web_dir = configured or default_web_dir()
    if web_dir is None or not (web_dir / "index.html").exists():

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
    index = web_dir / "index.html"
    if (web_dir / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=web_dir / "assets"), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    async def web_client(path: str) -> Response:
        """Files of the built client; any other path is a client route: serve index.html."""
        if path.startswith(("api/", "ws", "files/")):
            return error_response(404, "not_found", "no such endpoint")
        candidate = (web_dir / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(web_dir.resolve()):
            return FileResponse(candidate)
        return FileResponse(index)
