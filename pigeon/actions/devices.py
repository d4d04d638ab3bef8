"""Devices: the user's logins, listed, renamed and logged out one at a time.

A device is a login session (a browser, an app install): its id is the session id, so a
device's tokens, its sockets (all tabs of one browser share the browser's tokens) and its
hot-group read stubs all name it. Logging a device out revokes its session: its refresh
token stops working, its access tokens are refused, and every socket of it is closed with
``kicked`` (``device_logged_out``) and close 4003, on whichever gateway it is.
"""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.accounts import kick_sessions
from pigeon.actions.context import Context
from pigeon.common.clock import now_ms
from pigeon.common.errors import NotFound
from pigeon.common.models import Device
from pigeon.storage import users as store


async def list_devices(ctx: Context, user_id: int, current: str) -> list[Device]:
    """The user's logged-in devices, newest first; ``current`` is the caller's."""
    now = now_ms()
    async with ctx.db.read() as conn:
        rows = await store.list_live_sessions(conn, user_id, now)
    sockets = (await ctx.connections.locations([user_id])).get(user_id, [])
    online = {location.device for location in sockets}
    return [_device(row, row["id"] in online, row["id"] == current, now) for row in rows]


async def rename_device(
    ctx: Context, user_id: int, device_id: str, name: str, current: str
) -> Device:
    """Give one of the user's devices another name."""
    async with ctx.transaction() as (conn, _):
        await _own_live_session(conn, user_id, device_id)
        await store.rename_session(conn, device_id, name)
    found = [d for d in await list_devices(ctx, user_id, current) if d.id == device_id]
    if not found:
        raise NotFound("no such device")
    return found[0]


async def log_out_device(ctx: Context, user_id: int, device_id: str) -> None:
    """Revoke the device's tokens and close its sockets (this device too, if it is the
    caller's own)."""
    async with ctx.transaction() as (conn, _):
        await _own_live_session(conn, user_id, device_id)
        await store.revoke_session(conn, device_id, now_ms())
    await kick_sessions(ctx, user_id, [device_id], reason="device_logged_out")


async def note_device_active(ctx: Context, device_id: str) -> None:
    """A socket of the device closed: it was active until now."""
    async with ctx.transaction() as (conn, _):
        await store.touch_session(conn, device_id, now_ms())


async def _own_live_session(conn: AsyncConnection, user_id: int, device_id: str) -> RowMapping:
    """The session row, if it is a live device of this user (else 404: another user's
    device is not told apart from none)."""
    row = await store.find_session(conn, device_id)
    if (
        row is None
        or row["user_id"] != user_id
        or row["revoked_at"] is not None
        or row["expires_at"] <= now_ms()
    ):
        raise NotFound("no such device")
    return row


def _device(row: RowMapping, online: bool, current: bool, now: int) -> Device:
    last_active = now if online else (row["last_active_at"] or row["created_at"])
    return Device(
        id=row["id"],
        name=row["name"],
        kind=row["device"],
        created_at=row["created_at"],
        last_active_at=last_active,
        online=online,
        current=current,
    )
