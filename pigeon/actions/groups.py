"""Groups: create, manage (name, notice, avatar, roles, members), leave, dissolve, readers.

Who may do what (the pure rules at the top, tested on their own):

    read, send, set own alias      any member
    rename, notice, avatar         owner, admins
    invite                         owner, admins (members too if ``members_can_invite``)
    kick, mute                     owner: anyone; admins: members only
    mute all, join mode            owner, admins
    invite links, join requests    owner, admins
    set/unset admins, transfer     owner
    dissolve                       owner
    quit                           anyone but the owner (who transfers or dissolves first)

Every change is stored as a ``system`` message (a tip with its own seq, so members who
sync later see it in order) and announced to the members' devices, after the commit, as
``{"type": "event", "event": "group_updated", "data": {"group", "change", "by",
"user_ids", "seq"}}``; ``change`` is the tip's ``event``. A removed member gets the event
but not the tip (they can no longer read the group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.actions.context import Context
from pigeon.actions.conversations import group_from_row, require_member
from pigeon.actions.tips import display_name, name_list, post_tip
from pigeon.actions.uploads import check_avatar_url
from pigeon.bus.publication import Publication, message_stored, to_group, to_users
from pigeon.common.clock import now_ms
from pigeon.common.errors import (
    Blocked,
    Forbidden,
    GroupDissolved,
    GroupFull,
    InvalidRequest,
    NotAdmin,
    NotFound,
    NotFriends,
    NotMember,
    NotOwner,
)
from pigeon.common.models import Group, GroupMember, GroupRole, JoinMode, Message, User
from pigeon.common.protocol.frames import EventFrame
from pigeon.common.settings import MessagingSettings
from pigeon.storage import friends as friend_store
from pigeon.storage import groups as store
from pigeon.storage.users import get_users

MAX_NAME_CHARS = 64
MAX_NOTICE_CHARS = 2000
MAX_AVATAR_CHARS = 512
MAX_ALIAS_CHARS = 64
MANAGERS = ("owner", "admin")

# -- the rules, free of I/O -------------------------------------------------------------


def check_can_manage(role: str) -> None:
    """Rename, notice, avatar: owner and admins."""
    if role not in MANAGERS:
        raise NotAdmin()


def check_can_invite(role: str, settings: MessagingSettings) -> None:
    if role not in MANAGERS and not settings.members_can_invite:
        raise NotAdmin("only the group owner or admins may invite")


def check_can_kick(role: str, target_role: str) -> None:
    """The owner removes anyone; admins remove ordinary members only."""
    if role not in MANAGERS:
        raise NotAdmin()
    if target_role == "owner" or (target_role == "admin" and role != "owner"):
        raise Forbidden("admins cannot remove the owner or other admins")


def check_can_mute(role: str, target_role: str) -> None:
    """Like kicking: the owner mutes anyone but themselves; admins ordinary members only."""
    if role not in MANAGERS:
        raise NotAdmin()
    if target_role == "owner" or (target_role == "admin" and role != "owner"):
        raise Forbidden("admins cannot mute the owner or other admins")


def check_is_owner(role: str) -> None:
    if role != "owner":
        raise NotOwner()


def check_size(new_count: int, settings: MessagingSettings) -> None:
    if new_count > settings.max_group_members:
        raise GroupFull(f"groups are limited to {settings.max_group_members} members")


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(f"group names are 1-{MAX_NAME_CHARS} characters")
    return name


# -- what a change leaves behind --------------------------------------------------------


@dataclass
class Change:
    """The tips a change stored and who else must hear of it, pushed after the commit."""

    group: RowMapping | None = None
    tips: list[tuple[str, Message | None, list[int]]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    by: int = 0

    def add(self, change: str, tip: Message | None, user_ids: Sequence[int] = ()) -> None:
        self.tips.append((change, tip, list(user_ids)))


async def announce(ctx: Context, change: Change) -> None:
    """After commit: each tip to the members, then one ``group_updated`` event per change."""
    if change.group is None:
        return
    group_id = change.group["conversation_id"]
    group = group_from_row(
        change.group, None, ctx.settings.messaging.hot_group_threshold
    ).model_dump(mode="json")
    publications: list[Publication] = [
        message_stored(tip) for _, tip, _ in change.tips if tip is not None
    ]
    for name, tip, user_ids in change.tips:
        frame = EventFrame(
            event="group_updated",
            data={
                "group": group,
                "change": name,
                "by": change.by,
                "user_ids": user_ids,
                "seq": tip.seq if tip is not None else None,
            },
        )
        publications.append(to_group(frame, group_id))
        if change.removed:
            publications.append(to_users(frame, change.removed))
    await ctx.publish(publications)


async def load_as_member(
    conn: AsyncConnection, group_id: int, user_id: int, *, allow_dissolved: bool = False
) -> tuple[RowMapping, GroupRole]:
    """The locked group row and the caller's role; outsiders cannot tell if it exists."""
    group = await store.lock_group(conn, group_id)
    if group is None:
        raise NotMember()
    role = (await store.roles_of(conn, group_id, [user_id])).get(user_id)
    if role is None:
        raise NotMember()
    if group["dissolved_at"] is not None and not allow_dissolved:
        raise GroupDissolved()
    return group, cast(GroupRole, role)


async def _target_role(conn: AsyncConnection, group_id: int, target_id: int) -> str:
    role = (await store.roles_of(conn, group_id, [target_id])).get(target_id)
    if role is None:
        raise NotFound("that user is not a member of this group")
    return role


async def _check_invitable(
    ctx: Context, conn: AsyncConnection, inviter_id: int, user_ids: list[int]
) -> dict[int, User]:
    """The invitees as users: they exist, have not blocked the inviter, are friends."""
    users = await get_users(conn, [inviter_id, *user_ids])
    missing = [uid for uid in user_ids if uid not in users]
    if missing:
        raise NotFound(f"no such user: {missing[0]}")
    if await friend_store.blockers_among(conn, user_ids, inviter_id):
        raise Blocked("a user you invited does not accept invitations from you")
    if ctx.settings.messaging.group_invite_requires_friendship:
        friends = await friend_store.friends_among(conn, inviter_id, user_ids)
        strangers = [uid for uid in user_ids if uid not in friends]
        if strangers:
            raise NotFriends(f"you can only add your friends (user {strangers[0]} is not)")
    return users


async def _resize(ctx: Context, conn: AsyncConnection, group: RowMapping, delta: int) -> None:
    count = group["member_count"] + delta
    await store.update_group(conn, group["conversation_id"], member_count=count)


async def finish(conn: AsyncConnection, change: Change, group_id: int) -> None:
    change.group = await store.find_group(conn, group_id)


# -- actions ----------------------------------------------------------------------------


async def create_group(ctx: Context, user_id: int, name: str, member_ids: list[int]) -> Group:
    """Create a group owned by the caller, with the caller's friends as first members."""
    name = clean_name(name)
    others = [uid for uid in dict.fromkeys(member_ids) if uid != user_id]
    if not others:
        raise InvalidRequest("a group needs at least one member besides you")
    check_size(1 + len(others), ctx.settings.messaging)
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        users = await _check_invitable(ctx, conn, user_id, others)
        now = now_ms()
        group_id = await store.insert_group(conn, name=name, owner_id=user_id, now=now)
        await store.add_members(
            conn,
            group_id,
            [(user_id, "owner"), *((uid, "member") for uid in others)],
            visible_from_seq=0,
            now=now,
        )
        group = await store.find_group(conn, group_id)
        assert group is not None
        await _resize(ctx, conn, group, 1 + len(others))
        tip = await post_tip(
            conn,
            group_id,
            "group_created",
            f"{display_name(users[user_id])} created the group with "
            f"{name_list([users[u] for u in others])}",
            by=user_id,
            now=now,
            name=name,
            user_ids=others,
        )
        change.add("group_created", tip, others)
        await finish(conn, change, group_id)
    await announce(ctx, change)
    assert change.group is not None
    return group_from_row(change.group, "owner", ctx.settings.messaging.hot_group_threshold)


async def get_group(ctx: Context, user_id: int, group_id: int) -> Group:
    async with ctx.db.read() as conn:
        membership = await require_member(conn, group_id, user_id)
        group = await store.find_group(conn, group_id)
    if group is None:
        raise NotFound("this conversation is not a group")
    return group_from_row(group, membership["role"], ctx.settings.messaging.hot_group_threshold)


async def update_group(
    ctx: Context,
    user_id: int,
    group_id: int,
    *,
    name: str | None = None,
    notice: str | None = None,
    avatar_url: str | None = None,
    hot: bool | None = None,
    join_mode: JoinMode | None = None,
    muted_all: bool | None = None,
) -> Group:
    """Owner/admins change the name, notice or avatar (one tip per field that changed),
    mute the group for all but themselves (a tip), or set how invite links join or mark
    the group hot: push + pull whatever its size (an event each, no tip)."""
    if name is not None:
        name = clean_name(name)
    if notice is not None and len(notice) > MAX_NOTICE_CHARS:
        raise InvalidRequest(f"the notice is limited to {MAX_NOTICE_CHARS} characters")
    if avatar_url is not None and len(avatar_url) > MAX_AVATAR_CHARS:
        raise InvalidRequest(f"avatar URLs are limited to {MAX_AVATAR_CHARS} characters")
    if avatar_url:
        await check_avatar_url(ctx, avatar_url)
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        group, role = await load_as_member(conn, group_id, user_id)
        check_can_manage(role)
        actor = display_name((await get_users(conn, [user_id])).get(user_id))
        now = now_ms()
        edits = (
            ("name", name, "group_renamed", f'{actor} renamed the group to "{name}"'),
            ("notice", notice, "notice_changed", f"{actor} changed the group notice"),
            ("avatar_url", avatar_url, "avatar_changed", f"{actor} changed the group avatar"),
        )
        for column, value, event, text in edits:
            if value is None or value == group[column]:
                continue
            await store.update_group(conn, group_id, **{column: value})
            tip = await post_tip(
                conn, group_id, event, text, by=user_id, now=now, **{column: value}
            )
            change.add(event, tip)
        if muted_all is not None and muted_all != bool(group["muted_all"]):
            await store.update_group(conn, group_id, muted_all=muted_all)
            event = "group_muted" if muted_all else "group_unmuted"
            text = (
                f"{actor} muted the group: only the owner and admins may speak"
                if muted_all
                else f"{actor} unmuted the group"
            )
            change.add(event, await post_tip(conn, group_id, event, text, by=user_id, now=now))
        if hot is not None and hot != bool(group["hot"]):
            await store.update_group(conn, group_id, hot=hot)
            change.add("hot_changed", None)
        if join_mode is not None and join_mode != group["join_mode"]:
            await store.update_group(conn, group_id, join_mode=join_mode)
            change.add("join_mode_changed", None)
        await finish(conn, change, group_id)
    await announce(ctx, change)
    assert change.group is not None
    return group_from_row(change.group, role, ctx.settings.messaging.hot_group_threshold)


def member_from_row(row: RowMapping, user: User) -> GroupMember:
    return GroupMember(
        user=user,
        role=row["role"],
        alias=row["alias"],
        joined_at=row["joined_at"],
        muted_until=row["send_muted_until"] if row["send_muted_until"] > now_ms() else 0,
    )


async def list_members(
    ctx: Context,
    user_id: int,
    group_id: int,
    *,
    after_user_id: int = 0,
    limit: int = 100,
    prefix: str = "",
) -> tuple[list[GroupMember], int | None]:
    """A page of members by user id, and the ``after_user_id`` of the next page (or None);
    with a ``prefix``, the members whose username, nickname or alias starts with it."""
    async with ctx.db.read() as conn:
        await require_member(conn, group_id, user_id)
        rows = await store.member_page(conn, group_id, after_user_id, limit + 1, prefix.strip())
        users = await get_users(conn, [r["user_id"] for r in rows[:limit]])
    members = [
        member_from_row(r, users[r["user_id"]]) for r in rows[:limit] if r["user_id"] in users
    ]
    following = rows[limit - 1]["user_id"] if len(rows) > limit else None
    return members, following


async def invite_members(ctx: Context, user_id: int, group_id: int, user_ids: list[int]) -> Group:
    """Add users; they see history from their joining on (unless the settings say all)."""
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        group, role = await load_as_member(conn, group_id, user_id)
        check_can_invite(role, ctx.settings.messaging)
        wanted = [uid for uid in dict.fromkeys(user_ids) if uid != user_id]
        present = await store.roles_of(conn, group_id, wanted)
        new = [uid for uid in wanted if uid not in present]
        if new:
            users = await _check_invitable(ctx, conn, user_id, new)
            text = f"{display_name(users[user_id])} invited {name_list([users[u] for u in new])}"
            await admit(ctx, conn, group, new, change, text)
        await finish(conn, change, group_id)
    await announce(ctx, change)
    assert change.group is not None
    return group_from_row(change.group, role, ctx.settings.messaging.hot_group_threshold)


async def admit(
    ctx: Context,
    conn: AsyncConnection,
    group: RowMapping,
    user_ids: list[int],
    change: Change,
    text: str,
    **tip_fields: object,
) -> None:
    """Add new members (who see history from now on, unless the settings say all) with
    the ``member_joined`` tip: every way into a group comes through here."""
    group_id = group["conversation_id"]
    check_size(group["member_count"] + len(user_ids), ctx.settings.messaging)
    now = now_ms()
    visible_from = (
        0
        if ctx.settings.messaging.new_members_see_history
        else await store.last_seq(conn, group_id)
    )
    await store.add_members(
        conn,
        group_id,
        [(uid, "member") for uid in user_ids],
        visible_from_seq=visible_from,
        now=now,
    )
    await _resize(ctx, conn, group, len(user_ids))
    tip = await post_tip(
        conn,
        group_id,
        "member_joined",
        text,
        by=change.by,
        now=now,
        user_ids=user_ids,
        **tip_fields,
    )
    change.add("member_joined", tip, user_ids)


async def kick_member(ctx: Context, user_id: int, group_id: int, target_id: int) -> None:
    """Remove a member, who loses access at once and is told by an event."""
    if target_id == user_id:
        raise InvalidRequest("to leave a group, quit it")
    change = Change(by=user_id, removed=[target_id])
    async with ctx.transaction() as (conn, _):
        group, role = await load_as_member(conn, group_id, user_id)
        check_can_kick(role, await _target_role(conn, group_id, target_id))
        users = await get_users(conn, [user_id, target_id])
        await store.remove_member(conn, group_id, target_id)
        await _resize(ctx, conn, group, -1)
        tip = await post_tip(
            conn,
            group_id,
            "member_kicked",
            f"{display_name(users.get(user_id))} removed {display_name(users.get(target_id))}",
            by=user_id,
            now=now_ms(),
            user_ids=[target_id],
        )
        change.add("member_kicked", tip, [target_id])
        await finish(conn, change, group_id)
    await announce(ctx, change)


async def mute_member(
    ctx: Context, user_id: int, group_id: int, target_id: int, duration_s: int
) -> GroupMember:
    """Keep a member from sending for ``duration_s`` seconds (0: lift the mute); a tip."""
    limit = ctx.settings.messaging.max_member_mute_s
    if not 0 <= duration_s <= limit:
        raise InvalidRequest(f"a mute lasts 0-{limit} seconds")
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        _group, role = await load_as_member(conn, group_id, user_id)
        check_can_mute(role, await _target_role(conn, group_id, target_id))
        now = now_ms()
        until = now + duration_s * 1000 if duration_s else 0
        await store.set_send_mute(conn, group_id, target_id, until)
        users = await get_users(conn, [user_id, target_id])
        actor, target = display_name(users.get(user_id)), display_name(users.get(target_id))
        event = "member_muted" if until else "member_unmuted"
        text = f"{actor} muted {target}" if until else f"{actor} unmuted {target}"
        tip = await post_tip(
            conn, group_id, event, text, by=user_id, now=now, user_ids=[target_id], until=until
        )
        change.add(event, tip, [target_id])
        row = (await store.member_page(conn, group_id, target_id - 1, 1))[0]
        await finish(conn, change, group_id)
    await announce(ctx, change)
    return member_from_row(row, users[target_id])


async def quit_group(ctx: Context, user_id: int, group_id: int) -> None:
    """Leave a group. The owner must hand it over or dissolve it first; anyone may leave
    a dissolved group (quietly: it takes no more tips)."""
    change = Change(by=user_id, removed=[user_id])
    async with ctx.transaction() as (conn, _):
        group, role = await load_as_member(conn, group_id, user_id, allow_dissolved=True)
        dissolved = group["dissolved_at"] is not None
        if role == "owner" and not dissolved:
            raise Forbidden("the owner must transfer ownership or dissolve the group first")
        await store.remove_member(conn, group_id, user_id)
        await _resize(ctx, conn, group, -1)
        tip = None
        if not dissolved:
            users = await get_users(conn, [user_id])
            tip = await post_tip(
                conn,
                group_id,
                "member_left",
                f"{display_name(users.get(user_id))} left the group",
                by=user_id,
                now=now_ms(),
                user_ids=[user_id],
            )
        change.add("member_left", tip, [user_id])
        await finish(conn, change, group_id)
    await announce(ctx, change)


async def dissolve_group(ctx: Context, user_id: int, group_id: int) -> None:
    """The owner ends the group: history stays readable, nothing more can be sent."""
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        _group, role = await load_as_member(conn, group_id, user_id)
        check_is_owner(role)
        users = await get_users(conn, [user_id])
        now = now_ms()
        tip = await post_tip(
            conn,
            group_id,
            "group_dissolved",
            f"{display_name(users.get(user_id))} dissolved the group",
            by=user_id,
            now=now,
        )
        await store.update_group(conn, group_id, dissolved_at=now)
        change.add("group_dissolved", tip)
        await finish(conn, change, group_id)
    await announce(ctx, change)


async def transfer_ownership(ctx: Context, user_id: int, group_id: int, target_id: int) -> Group:
    """The owner hands the group to another member and becomes an ordinary member."""
    if target_id == user_id:
        raise InvalidRequest("you already own this group")
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        _group, role = await load_as_member(conn, group_id, user_id)
        check_is_owner(role)
        await _target_role(conn, group_id, target_id)
        await store.set_role(conn, group_id, target_id, "owner")
        await store.set_role(conn, group_id, user_id, "member")
        await store.update_group(conn, group_id, owner_id=target_id)
        users = await get_users(conn, [user_id, target_id])
        tip = await post_tip(
            conn,
            group_id,
            "owner_transferred",
            f"{display_name(users.get(user_id))} made {display_name(users.get(target_id))} "
            "the group owner",
            by=user_id,
            now=now_ms(),
            user_ids=[target_id],
        )
        change.add("owner_transferred", tip, [target_id])
        await finish(conn, change, group_id)
    await announce(ctx, change)
    assert change.group is not None
    return group_from_row(change.group, "member", ctx.settings.messaging.hot_group_threshold)


async def set_admin(
    ctx: Context, user_id: int, group_id: int, target_id: int, *, admin: bool
) -> None:
    """The owner makes a member an admin, or an admin a member again."""
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        _group, role = await load_as_member(conn, group_id, user_id)
        check_is_owner(role)
        if target_id == user_id:
            raise InvalidRequest("the owner's role cannot change this way")
        current = await _target_role(conn, group_id, target_id)
        if not admin and current != "admin":
            raise NotFound("that member is not an admin")
        if admin and current == "admin":
            return
        users = await get_users(conn, [user_id, target_id])
        actor, target = display_name(users.get(user_id)), display_name(users.get(target_id))
        await store.set_role(conn, group_id, target_id, "admin" if admin else "member")
        name = "admin_added" if admin else "admin_removed"
        tip = await post_tip(
            conn,
            group_id,
            name,
            f"{actor} made {target} an admin" if admin else f"{actor} removed {target} as admin",
            by=user_id,
            now=now_ms(),
            user_ids=[target_id],
        )
        change.add(name, tip, [target_id])
        await finish(conn, change, group_id)
    await announce(ctx, change)


async def set_alias(ctx: Context, user_id: int, group_id: int, alias: str) -> GroupMember:
    """A member's name in this group; announced (``alias_changed``) without a tip."""
    alias = " ".join(alias.split())
    if len(alias) > MAX_ALIAS_CHARS:
        raise InvalidRequest(f"aliases are limited to {MAX_ALIAS_CHARS} characters")
    change = Change(by=user_id)
    async with ctx.transaction() as (conn, _):
        _group, role = await load_as_member(conn, group_id, user_id)
        await store.set_alias(conn, group_id, user_id, alias)
        row = (await store.member_page(conn, group_id, user_id - 1, 1))[0]
        users = await get_users(conn, [user_id])
        change.add("alias_changed", None, [user_id])
        await finish(conn, change, group_id)
    await announce(ctx, change)
    return GroupMember(user=users[user_id], role=role, alias=alias, joined_at=row["joined_at"])


async def list_readers(ctx: Context, user_id: int, conversation_id: int, seq: int) -> list[int]:
    """Members (not the sender) whose read marker reached the message at ``seq``."""
    async with ctx.db.read() as conn:
        membership = await require_member(conn, conversation_id, user_id)
        found = None
        if seq > membership["visible_from_seq"]:
            found = await store.sender_at(conn, conversation_id, seq)
        if found is None:
            raise NotFound("no such message")
        return await store.readers(conn, conversation_id, seq, found["sender_id"])
