"""Security headers on every HTTP response, as a plain ASGI middleware.

- ``Content-Security-Policy`` (``http.content_security_policy``): scripts, styles and
  connections only from this origin, no plugins, no ``<base>`` tricks, and
  ``frame-ancestors 'none'`` so no other site can frame the app (clickjacking). If an
  injected script ever ran, it could not load code or send tokens to another origin.
- ``X-Frame-Options: DENY``: the same framing rule for browsers without CSP level 2.
- ``X-Content-Type-Options: nosniff``: a file is never run as a type it was not sent as.
- ``Referrer-Policy: no-referrer``: no URL of the app leaks to links it shows.
- ``Cache-Control: no-store`` on API responses that set no caching of their own: what a
  user's token fetched never lands in a shared cache.

A response that sets one of these itself (an upload's sandboxing CSP) keeps its own.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, content_security_policy: str) -> None:
        self.app = app
        self.defaults: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if content_security_policy:
            self.defaults.append((b"content-security-policy", content_security_policy.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(self.defaults)
        if scope["path"].startswith(API_PREFIX):
            extra.append((b"cache-control", b"no-store"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
