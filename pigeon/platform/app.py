"""The ASGI app. One factory serves every process kind: API, gateway, or both (embedded)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
import swagger_ui_bundle
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles

from pigeon import __version__
from pigeon.gateway.endpoint import serve_socket
from pigeon.platform.errors import ERROR_RESPONSES, error_response, install_error_handlers
from pigeon.platform.headers import SecurityHeaders
from pigeon.platform.limits import BodyLimit
from pigeon.platform.observe import MetricsListener, RequestMetrics
from pigeon.platform.proxies import TrustedProxies, client_address
from pigeon.platform.routes import auth, changes, conversations, friends, groups, users
from pigeon.platform.routes import gateway as gateway_routes
from pigeon.platform.routes import presence as presence_routes
from pigeon.platform.routes import service as service_routes
from pigeon.platform.routes import uploads as upload_routes
from pigeon.platform.webclient import serve_web_client
from pigeon.runtime import Runtime

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024
DOCS_ASSETS = "/docs/assets"


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
        docs_url=None,
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.ctx = runtime.ctx
    app.state.runtime = runtime
    app.state.trusted_proxies = TrustedProxies(runtime.settings.http.trusted_proxies)
    install_error_handlers(app)
    _add_operations(app, runtime)
    _serve_docs(app)
    if with_api:
        for module in (auth, users, conversations, changes, friends, groups):
            app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
        for module in (gateway_routes, presence_routes):
            app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
        app.include_router(service_routes.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
        app.include_router(upload_routes.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
        app.include_router(upload_routes.files_router)
    if runtime.gateway is not None:
        gateway = runtime.gateway

        @app.websocket("/ws")
        async def websocket_endpoint(websocket: WebSocket) -> None:
            await serve_socket(gateway, websocket)

    if with_api:
        _refuse_unknown_api_paths(app)
        serve_web_client(app, runtime.settings.web_dir)
    upload_limit = runtime.settings.uploads.max_bytes + 64 * 1024
    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    app.add_middleware(
        BodyLimit, max_bytes=MAX_BODY_BYTES, larger={API_PREFIX + "/uploads": upload_limit}
    )
    app.add_middleware(
        SecurityHeaders, content_security_policy=runtime.settings.http.content_security_policy
    )
    if runtime.settings.http.metrics_port:
        app.add_middleware(MetricsListener, port=runtime.settings.http.metrics_port)
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

    http = runtime.settings.http

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus text; only on the metrics listener if ``http.metrics_port`` is set, and
        only with ``Authorization: Bearer <http.metrics_token>`` if that is set."""
        if http.metrics_port and request.scope["server"][1] != http.metrics_port:
            return error_response(404, "not_found", "no such endpoint")
        if http.metrics_token and not _bearer_matches(request, http.metrics_token):
            log.info("metrics_refused", client=client_address(request))
            refused = error_response(401, "unauthorized", "send Authorization: Bearer <token>")
            refused.headers["WWW-Authenticate"] = "Bearer"
            return refused
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    presented = hashlib.sha256(value.strip().encode()).digest()
    wanted = hashlib.sha256(token.encode()).digest()
    return scheme.lower() == "bearer" and hmac.compare_digest(presented, wanted)


_DOCS_HTML = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Pigeon - API</title>
    <link rel="stylesheet" href="{DOCS_ASSETS}/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{DOCS_ASSETS}/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
"""

_DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
"""


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from assets shipped with Pigeon (no CDN, no inline script,
    so the strict Content-Security-Policy holds there too)."""
    app.mount(
        DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_HTML)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_DOCS_INIT, media_type="text/javascript")


def _refuse_unknown_api_paths(app: FastAPI) -> None:
    """Unknown API paths are 404 ``not_found`` for every method, not the web client."""

    @app.api_route(
        API_PREFIX + "/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def unknown_api_path(path: str) -> Response:
        return error_response(404, "not_found", f"no such endpoint: /{path}")
