"""Access tokens are short-lived JWTs; refresh tokens are random and stored hashed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import jwt

from pigeon.common.errors import Unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str
    device: str


def issue_access_token(
    secret: str, user_id: int, session_id: str, device: str, now_s: int, ttl_s: int
) -> str:
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "dev": device,
        "typ": "access",
        "iat": now_s,
        "exp": now_s + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_access_token(secret: str, token: str) -> AccessClaims:
    """Check signature, expiry and kind; raise :class:`Unauthorized` otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "sid"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("access token expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("invalid access token") from None
    if claims.get("typ") != "access":
        raise Unauthorized("not an access token")
    try:
        return AccessClaims(int(claims["sub"]), str(claims["sid"]), str(claims.get("dev", "web")))
    except (TypeError, ValueError):
        raise Unauthorized("invalid access token") from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_hex(16)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
