"""Accounts: register, log in, refresh, log out, change password, profiles.

Each login opens a session, and a session is a device (a browser, an app install): its id
is the device id, and its tokens are the device's (see :mod:`pigeon.actions.devices`)."""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from zxcvbn import zxcvbn

from pigeon.actions.context import Context
from pigeon.actions.throttle import take
from pigeon.actions.tokens import (
    AccessClaims,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    new_session_id,
    verify_access_token,
)
from pigeon.actions.uploads import check_avatar_url
from pigeon.bus.publication import close_sockets
from pigeon.common.clock import now_ms
from pigeon.common.errors import (
    InvalidRefreshToken,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    UsernameTaken,
    WeakPassword,
    WrongPassword,
)
from pigeon.common.models import User
from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.frames import EventFrame, KickedFrame, KickReason
from pigeon.common.settings import AuthSettings
from pigeon.storage import users as store
from pigeon.storage.presence import friends_of

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
DEVICES = ("web", "desktop", "mobile")
_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("pigeon-dummy-password")


@functools.cache
def _cost_hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def _new_hasher(auth: AuthSettings) -> PasswordHasher:
    """The hasher for new hashes, at the configured cost (verifying reads a hash's own)."""
    return _cost_hasher(
        auth.password_hash_time_cost,
        max(auth.password_hash_memory_kib, 8 * auth.password_hash_parallelism),
        auth.password_hash_parallelism,
    )


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    session_id: str


# zxcvbn's work grows with the length; past this many characters a password is long enough
# that its start alone decides.
_SCORED_CHARS = 64


def check_password_strength(
    password: str, username: str, min_length: int, min_score: int = 3
) -> None:
    """Refuse short passwords, and those zxcvbn estimates guessable (common passwords,
    keyboard walks, dictionary words with predictable changes, the username)."""
    if len(password) < min_length:
        raise WeakPassword(f"the password needs at least {min_length} characters")
    if len(password) > 256:
        raise WeakPassword("the password is longer than 256 characters")
    if password.lower() == username.lower():
        raise WeakPassword("the password must differ from the username")
    if min_score <= 0:
        return
    result = zxcvbn(password[:_SCORED_CHARS], user_inputs=[username, "pigeon"])
    if int(result["score"]) < min_score:
        feedback = result.get("feedback") or {}
        why = str(feedback.get("warning") or "").strip() or "This password is easy to guess."
        hints = " ".join(str(s) for s in feedback.get("suggestions") or [])
        raise WeakPassword(f"the password is too easy to guess: {why} {hints}".strip())


async def register_user(
    ctx: Context,
    username: str,
    password: str,
    nickname: str = "",
    device: str = "web",
    address: str = "",
    device_name: str | None = None,
) -> Tokens:
    """Create an account; one client address may register only so many per window."""
    if not USERNAME.match(username):
        raise InvalidRequest("usernames are 3-32 letters, digits, '_', '.' or '-'")
    auth = ctx.settings.auth
    check_password_strength(password, username, auth.min_password_length, auth.min_password_score)
    await take(
        ctx.limiter,
        f"register:{address}",
        auth.register_per_address,
        auth.register_window_s,
        "registrations from this address",
    )
    password_hash = await asyncio.to_thread(_new_hasher(auth).hash, password)
    now = now_ms()
    try:
        async with ctx.transaction() as (conn, _):
            user_id = await store.insert_user(
                conn,
                username=username,
                username_key=username.lower(),
                password_hash=password_hash,
                nickname=(nickname or username)[:64],
                created_at=now,
                password_changed_at=now,
            )
            return await _open_session(ctx, conn, user_id, _device(device), device_name, now)
    except IntegrityError:
        raise UsernameTaken() from None


async def login_user(
    ctx: Context,
    username: str,
    password: str,
    device: str = "web",
    address: str = "",
    device_name: str | None = None,
) -> Tokens:
    """Log in. Too many failures for one account, or from one client address, pause it.

    Each attempt is counted before its password is checked (one atomic step, shared by a
    cluster's servers), and a good one is taken back: concurrent guesses cannot all be
    evaluated before the first of them is counted.
    """
    auth = ctx.settings.auth
    keys = [
        (f"login:account:{username.lower()}", auth.login_max_failures),
        (f"login:address:{address}", auth.login_max_failures_per_address),
    ]
    counted: list[str] = []
    try:
        for key, limit in keys:
            counted.append(key)
            await take(ctx.limiter, key, limit, auth.login_window_s, "failed logins")
        async with ctx.db.read() as conn:
            row = await store.find_user_by_username(conn, username)
        stored_hash = row["password_hash"] if row is not None else _DUMMY_HASH
        good = await asyncio.to_thread(_verify_password, stored_hash, password)
    except RateLimited:
        # A refused attempt was not evaluated: it does not hold the other key's count up.
        for key in counted[:-1]:
            await ctx.limiter.refund(key)
        raise
    if not good or row is None:
        raise WrongPassword()
    for key in counted:
        await ctx.limiter.refund(key)
    async with ctx.transaction() as (conn, _):
        return await _open_session(ctx, conn, row["id"], _device(device), device_name, now_ms())


async def refresh_tokens(ctx: Context, refresh_token: str) -> Tokens:
    """Rotate: the presented token dies, a new one is issued in the same session.

    A token presented a second time means it leaked: the whole session is revoked.
    """
    token_hash = hash_refresh_token(refresh_token)
    now = now_ms()
    reused = False
    async with ctx.transaction() as (conn, _):
        row = await store.find_refresh_token(conn, token_hash)
        if row is None or row["revoked_at"] is not None or row["expires_at"] < now:
            raise InvalidRefreshToken()
        if not await store.mark_refresh_token_rotated(conn, token_hash, now):
            await store.revoke_session(conn, row["session_id"], now)
            reused = True
        else:
            tokens = await _issue(ctx, conn, row["user_id"], row["session_id"], row["device"], now)
            await store.touch_session(conn, row["session_id"], now)
    if reused:
        await kick_sessions(ctx, row["user_id"], [row["session_id"]])
        raise InvalidRefreshToken("refresh token reused: the session is revoked")
    return tokens


async def logout_session(ctx: Context, user_id: int, refresh_token: str) -> None:
    async with ctx.transaction() as (conn, _):
        row = await store.find_refresh_token(conn, hash_refresh_token(refresh_token))
        if row is None or row["user_id"] != user_id:
            raise InvalidRefreshToken()
        await store.revoke_session(conn, row["session_id"], now_ms())
    await kick_sessions(ctx, user_id, [row["session_id"]])


async def change_password(
    ctx: Context, claims: AccessClaims, old_password: str, new_password: str
) -> None:
    """Change the password and revoke every other session of the user."""
    async with ctx.db.read() as conn:
        row = await store.find_user_row(conn, claims.user_id)
    if row is None:
        raise NotFound("no such user")
    if not await asyncio.to_thread(_verify_password, row["password_hash"], old_password):
        raise WrongPassword("the current password is wrong")
    auth = ctx.settings.auth
    check_password_strength(
        new_password, row["username"], auth.min_password_length, auth.min_password_score
    )
    new_hash = await asyncio.to_thread(_new_hasher(auth).hash, new_password)
    now = now_ms()
    async with ctx.transaction() as (conn, _):
        await store.update_user(
            conn, claims.user_id, password_hash=new_hash, password_changed_at=now
        )
        revoked = await store.revoke_sessions(conn, claims.user_id, now, keep=claims.session_id)
    await kick_sessions(ctx, claims.user_id, revoked)


async def authenticate(ctx: Context, token: str) -> tuple[AccessClaims, User]:
    """Verify an access token and that its session is still live."""
    claims = verify_access_token(ctx.settings.auth.secret_key, token)
    async with ctx.db.read() as conn:
        session = await store.find_session(conn, claims.session_id)
        if session is None or session["revoked_at"] is not None:
            raise Unauthorized("the session was revoked")
        if session["user_id"] != claims.user_id:
            # A token naming another user's session: forged, or signed with a leaked key.
            raise Unauthorized("the session does not belong to this token's user")
        found = await store.get_users(conn, [claims.user_id])
    if claims.user_id not in found:
        raise Unauthorized("no such user")
    return claims, found[claims.user_id]


async def session_is_live(ctx: Context, session_id: str) -> bool:
    """Whether an auth session still stands (not revoked by a logout or password change).

    The gateway asks again once a socket is registered: a revocation that landed between
    the token check and the registration found no socket to kick."""
    async with ctx.db.read() as conn:
        session = await store.find_session(conn, session_id)
    return session is not None and session["revoked_at"] is None


async def get_user(ctx: Context, user_id: int) -> User:
    async with ctx.db.read() as conn:
        found = await store.get_users(conn, [user_id])
    if user_id not in found:
        raise NotFound("no such user")
    return found[user_id]


MAX_LOOKUP_IDS = 100


async def get_users(ctx: Context, user_ids: list[int]) -> list[User]:
    """Public profiles of these users, in the order asked; unknown ids are left out.

    Clients use it to name people they meet in groups but are not friends with.
    """
    wanted = list(dict.fromkeys(user_ids))
    if not wanted or len(wanted) > MAX_LOOKUP_IDS:
        raise InvalidRequest(f"ask for 1 to {MAX_LOOKUP_IDS} user ids")
    async with ctx.db.read() as conn:
        found = await store.get_users(conn, wanted)
    return [found[uid] for uid in wanted if uid in found]


async def search_users(ctx: Context, text: str, limit: int = 20) -> list[User]:
    text = text.strip()
    if not text:
        return []
    async with ctx.db.read() as conn:
        return await store.search_users(conn, text, min(max(limit, 1), 50))


async def update_profile(
    ctx: Context,
    user_id: int,
    *,
    nickname: str | None = None,
    avatar_url: str | None = None,
    signature: str | None = None,
) -> User:
    values = {
        key: value
        for key, value in (
            ("nickname", nickname),
            ("avatar_url", avatar_url),
            ("signature", signature),
        )
        if value is not None
    }
    if "nickname" in values and not values["nickname"].strip():
        raise InvalidRequest("the nickname cannot be empty")
    if avatar_url:
        await check_avatar_url(ctx, avatar_url)
    if not values:
        return await get_user(ctx, user_id)
    async with ctx.transaction() as (conn, outbox):
        await store.update_user(conn, user_id, **values)
        user = (await store.get_users(conn, [user_id]))[user_id]
        friends = (await friends_of(conn, [user_id])).get(user_id, [])
        # Friends and the user's other devices show the new name at once; others (group
        # members met in passing) see it when their clients next look the profile up.
        frame = EventFrame(event="user_updated", data={"user": user.model_dump(mode="json")})
        outbox.push(frame, [user_id, *friends])
    return user


async def kick_sessions(
    ctx: Context,
    user_id: int,
    session_ids: list[str],
    reason: KickReason = "session_revoked",
) -> None:
    """Close every socket of revoked sessions (all tabs of those devices), wherever they
    are connected, with ``kicked`` and close 4003."""
    if not session_ids:
        return
    frame = KickedFrame(reason=reason)
    await ctx.publish([close_sockets(frame, user_id, CloseCode.REVOKED, session_ids=session_ids)])


# What a device is called when its client does not say (the web client names itself
# after the browser and system, "Chrome on Linux").
DEFAULT_DEVICE_NAMES = {"web": "Web browser", "desktop": "Desktop app", "mobile": "Mobile app"}


async def _open_session(
    ctx: Context,
    conn: AsyncConnection,
    user_id: int,
    device: str,
    device_name: str | None,
    now: int,
) -> Tokens:
    session_id = new_session_id()
    await store.insert_session(
        conn,
        id=session_id,
        user_id=user_id,
        device=device,
        name=device_name or DEFAULT_DEVICE_NAMES[device],
        created_at=now,
        last_active_at=now,
        expires_at=now + ctx.settings.auth.refresh_token_ttl_s * 1000,
    )
    return await _issue(ctx, conn, user_id, session_id, device, now)


async def _issue(
    ctx: Context, conn: AsyncConnection, user_id: int, session_id: str, device: str, now: int
) -> Tokens:
    refresh = new_refresh_token()
    await store.insert_refresh_token(conn, hash_refresh_token(refresh), session_id, now)
    ttl = ctx.settings.auth.access_token_ttl_s
    access = issue_access_token(
        ctx.settings.auth.secret_key, user_id, session_id, device, now // 1000, ttl
    )
    user = (await store.get_users(conn, [user_id]))[user_id]
    return Tokens(access, refresh, ttl, user, session_id)


def _verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _device(device: str) -> str:
    if device not in DEVICES:
        raise InvalidRequest(f"device must be one of {', '.join(DEVICES)}")
    return device
