"""Every failure becomes ``{"error": {"code": ..., "message": ...}}`` with a fitting status."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from pigeon.common.errors import PigeonError, RateLimited

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every refusal's body: a machine-readable ``code`` and a message for people."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "the request could not be read",
    401: "no valid access token (or service key)",
    403: "not allowed for this caller",
    404: "no such resource",
    409: "conflicts with the current state",
    410: "gone (a dissolved group, an expired message)",
    413: "the body is over the size limit",
    422: "the request does not match the schema",
    429: "rate limited: try again later",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in _DESCRIPTIONS.items()
}
"""Declared on every API operation, so clients and schema checks know the error body."""


_UNPARSEABLE = "There was an error parsing the body"  # FastAPI's words for it


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PigeonError)
    async def _pigeon(request: Request, exc: PigeonError) -> JSONResponse:
        log.info("request_refused", path=request.url.path, code=exc.code, status=exc.status)
        response = error_response(exc.status, exc.code, exc.message)
        if isinstance(exc, RateLimited) and exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors()[:3]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        log.info("request_invalid", path=request.url.path, detail=parts)
        return error_response(422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSEABLE:
            # A body that is not UTF-8 JSON is as invalid as malformed JSON: 422.
            log.info("request_invalid", path=request.url.path, detail=["body: unreadable"])
            return error_response(422, "invalid_request", "body: not valid UTF-8 JSON")
        code = _HTTP_CODES.get(exc.status_code, "error")
        log.info("request_refused", path=request.url.path, status=exc.status_code)
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client went away (or was cut off by a deadline) mid-body: nobody to answer.
        log.info("request_abandoned", path=request.url.path)
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request_failed", path=request.url.path)
        return error_response(500, "internal", "internal error")
