"""FastAPI dependencies: the action context and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pigeon.actions.accounts import authenticate
from pigeon.actions.context import Context
from pigeon.actions.tokens import AccessClaims
from pigeon.common.errors import Unauthorized
from pigeon.platform.proxies import client_address

_bearer = HTTPBearer(auto_error=False)


def get_context(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


async def get_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    if credentials is None:
        raise Unauthorized("send an access token: Authorization: Bearer <token>")
    claims, _user = await authenticate(get_context(request), credentials.credentials)
    return claims


async def get_user_id(claims: Annotated[AccessClaims, Depends(get_claims)]) -> int:
    return claims.user_id


async def get_device(claims: Annotated[AccessClaims, Depends(get_claims)]) -> str:
    """The caller's device id: the session its token belongs to (hot-group read stubs are
    kept per device, and a socket with the same token is the same device)."""
    return claims.session_id


def get_client_address(request: Request) -> str:
    """The caller's address (forwarded headers believed only from trusted proxies)."""
    return client_address(request)


Ctx = Annotated[Context, Depends(get_context)]
Claims = Annotated[AccessClaims, Depends(get_claims)]
UserId = Annotated[int, Depends(get_user_id)]
Device = Annotated[str, Depends(get_device)]
ClientAddress = Annotated[str, Depends(get_client_address)]
