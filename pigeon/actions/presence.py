"""Presence: a user is online while any of their devices is connected; friends see the
kinds of device connected (``["mobile", "web"]``: each kind once, however many browsers).

Friends hear of changes as ``presence`` frames. Changes are settled, not broadcast as they
happen: a connect is settled at once (friends see "online" immediately); a disconnect marks
the user dirty and is settled after ``presence.grace_s``, so a quick reconnect (a flaky
network, a page reload, moving to another gateway) announces nothing. Settling compares the
user's live devices with what was last announced, atomically in the registry, so any number
of gateways and workers may settle the same user and friends hear each change once. Work
grows with the number of changes, never with users x friends per heartbeat.

A gateway that dies leaves entries that a worker sweeps (``pigeon.worker.janitor``); their
users are marked dirty and settled like any disconnect.

When a settle finds a user with no device left, the time is kept in the database
(``users.last_seen_at``) in the same step, so "last seen" survives restarts and Redis
losing its data, costs one write per going-offline (not per heartbeat), and is shown only
where presence is: to friends.
"""

from __future__ import annotations

import structlog

from pigeon.actions.context import Context
from pigeon.bus.publication import Publication, to_users
from pigeon.common.clock import now_ms
from pigeon.common.errors import InvalidRequest
from pigeon.common.models import DeviceKind, Presence
from pigeon.common.protocol.frames import PresenceFrame
from pigeon.storage import presence as store

log = structlog.get_logger(__name__)

LEASE_S = 30.0  # a worker's claim on due users
LOCK_S = 10.0  # one settle-and-announce of a user
RETRY_S = 0.2  # a user whose lock was busy is settled again this much later


async def connection_opened(ctx: Context, user_id: int) -> None:
    """A socket of ``user_id`` was registered: announce what changed now."""
    await settle_presence(ctx, [user_id])


async def connection_closed(ctx: Context, user_id: int) -> None:
    """A socket of ``user_id`` went away: settle after the grace period."""
    await ctx.presence_book.mark_dirty([user_id], ctx.settings.presence.grace_s)


async def connections_lost(ctx: Context, user_ids: list[int]) -> None:
    """Entries removed by a sweep (their gateway died): settle as soon as possible."""
    await ctx.presence_book.mark_dirty(user_ids, 0.0)


async def settle_presence(ctx: Context, user_ids: list[int]) -> int:
    """Announce to friends the users whose devices differ from the last announcement.

    Each user is settled and announced under their presence lock, so that two processes
    never announce one user's changes out of order; a user whose lock is busy is marked
    to be settled again shortly.
    """
    locked: list[int] = []
    busy: list[int] = []
    for user_id in dict.fromkeys(user_ids):
        if await ctx.presence_book.lock(user_id, LOCK_S):
            locked.append(user_id)
        else:
            busy.append(user_id)
    if busy:
        await ctx.presence_book.mark_dirty(busy, RETRY_S)
    try:
        return await _announce(ctx, locked)
    finally:
        for user_id in locked:
            await ctx.presence_book.unlock(user_id)


async def _announce(ctx: Context, user_ids: list[int]) -> int:
    changed: dict[int, list[str]] = {}
    for user_id in user_ids:
        devices = await ctx.presence_book.settle(user_id)
        if devices is not None:
            changed[user_id] = devices
    if not changed:
        return 0
    gone = [user_id for user_id, devices in changed.items() if not devices]
    seen_at = now_ms()
    if not gone:  # connects only: nothing to write, so no write transaction
        async with ctx.db.read() as conn:
            friends = await store.friends_of(conn, list(changed))
        await ctx.publish(_frames(changed, friends, seen_at))
        return len(changed)
    async with ctx.transaction() as (conn, outbox):
        await store.record_last_seen(conn, gone, seen_at)
        friends = await store.friends_of(conn, list(changed))
        for publication in _frames(changed, friends, seen_at):
            outbox.add(publication)
    return len(changed)


def _frames(
    changed: dict[int, list[str]], friends: dict[int, list[int]], seen_at: int
) -> list[Publication]:
    """One ``presence`` frame per changed user, for their friends."""
    publications: list[Publication] = []
    for user_id, devices in changed.items():
        log.info("presence_changed", user=user_id, devices=devices)
        audience = friends.get(user_id)
        if not audience:
            continue
        frame = PresenceFrame(
            user_id=user_id,
            online=bool(devices),
            devices=_kinds(devices),
            last_seen=None if devices else seen_at,
        )
        publications.append(to_users(frame, audience))
    return publications


async def settle_due(ctx: Context, limit: int = 500, ahead_s: float = 0.0) -> int:
    """Settle the users whose presence marks are due (or will be within ``ahead_s``);
    how many were taken."""
    user_ids = await ctx.presence_book.claim_dirty(limit, LEASE_S, ahead_s)
    if not user_ids:
        return 0
    await settle_presence(ctx, user_ids)
    await ctx.presence_book.release_dirty(user_ids)
    return len(user_ids)


async def settle_before_exit(ctx: Context) -> None:
    """Embedded, no process outlives this one to settle the users who left within the
    grace period (its sockets just closed among them): settle them now, so that their
    friends' "last seen" is when the server stopped rather than some earlier time."""
    for _ in range(100):  # bounded: a user whose lock stays busy is marked again
        if not await settle_due(ctx, ahead_s=ctx.settings.presence.grace_s + 1.0):
            return


async def online_devices(ctx: Context, user_ids: list[int]) -> dict[int, list[str]]:
    """Device kinds each user is connected with right now (absent: offline)."""
    return await ctx.connections.devices(user_ids)


async def query_presence(ctx: Context, viewer_id: int, user_ids: list[int]) -> dict[int, Presence]:
    """Presence of the viewer's friends (and the viewer) among ``user_ids``.

    Other users are left out: whether someone is online, and when they were last seen, is
    for their friends to know.
    """
    wanted = list(dict.fromkeys(user_ids))
    if len(wanted) > ctx.settings.presence.max_query_ids:
        raise InvalidRequest(f"ask for at most {ctx.settings.presence.max_query_ids} users")
    async with ctx.db.read() as conn:
        friends = await store.friends_among(conn, viewer_id, wanted)
        visible = sorted(friends | ({viewer_id} & set(wanted)))
        seen = await store.last_seen_of(conn, visible)
    devices = await online_devices(ctx, visible)
    return {uid: presence_of(devices.get(uid, []), seen.get(uid)) for uid in visible}


def presence_of(devices: list[str], last_seen: int | None) -> Presence:
    """What a friend may know: devices while online, else when they were last seen."""
    return Presence(
        online=bool(devices),
        devices=_kinds(sorted(devices)),
        last_seen=None if devices else last_seen,
    )


def _kinds(devices: list[str]) -> list[DeviceKind]:
    return [d for d in devices if d in ("web", "desktop", "mobile")]  # type: ignore[misc]
