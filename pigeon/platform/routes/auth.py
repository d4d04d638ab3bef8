"""Accounts: register, log in, refresh, log out, change password."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from pigeon.actions import accounts
from pigeon.platform.deps import Claims, ClientAddress, Ctx, UserId
from pigeon.platform.schemas import (
    LoginBody,
    PasswordBody,
    RefreshBody,
    RegisterBody,
    TokensOut,
)

router = APIRouter(prefix="/auth", tags=["accounts"])


def no_store(response: Response) -> None:
    """Tokens must never be kept by a browser or a shared cache."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


NO_STORE = [Depends(no_store)]


def _out(tokens: accounts.Tokens) -> TokensOut:
    return TokensOut(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=tokens.user,
        device_id=tokens.session_id,
    )


@router.post("/register", status_code=status.HTTP_201_CREATED, dependencies=NO_STORE)
async def register(body: RegisterBody, ctx: Ctx, address: ClientAddress) -> TokensOut:
    """Create an account and log it in. Passwords that are easy to guess are refused (422
    ``weak_password``, saying why); one address may register only so many accounts an
    hour (429 ``rate_limited``)."""
    return _out(
        await accounts.register_user(
            ctx,
            body.username,
            body.password,
            body.nickname,
            body.device,
            address,
            device_name=body.device_name,
        )
    )


@router.post("/login", dependencies=NO_STORE)
async def login(body: LoginBody, ctx: Ctx, address: ClientAddress) -> TokensOut:
    """Log in, as a new device (``device`` is its kind, ``device_name`` what it is called
    in the device list; see ``/devices``). Ten failed logins for one account (or a
    hundred from one address) pause it for a few minutes (429 ``rate_limited``)."""
    tokens = await accounts.login_user(
        ctx, body.username, body.password, body.device, address, device_name=body.device_name
    )
    return _out(tokens)


@router.post("/refresh", dependencies=NO_STORE)
async def refresh(body: RefreshBody, ctx: Ctx) -> TokensOut:
    """Trade a refresh token for new tokens; the old refresh token stops working."""
    return _out(await accounts.refresh_tokens(ctx, body.refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshBody, ctx: Ctx, user_id: UserId) -> Response:
    await accounts.logout_session(ctx, user_id, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordBody, ctx: Ctx, claims: Claims) -> Response:
    """Change the password; every other session is logged out."""
    await accounts.change_password(ctx, claims, body.old_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
