"""A group for a run, made through the public HTTP API: members, senders' second devices.

Members are registered in parallel (``register_users``). The group is created by the
first member with all the others in one request (the API takes up to 10,000 ids); the
invitees need not be the owner's friends because the group scenarios start the server
with ``messaging.group_invite_requires_friendship = false`` (a printed setting), which
saves two requests per member. A sender logs in again as a ``desktop`` device: that
socket only sends, and its ``web`` socket is an online member like any other.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import httpx

from bench.accounts import PASSWORD, SetupError, User, _error, _post, register_users


@dataclass(frozen=True)
class GroupSetup:
    conversation_id: int
    members: list[User]
    senders: list[User]  # the same users as members[:n], with desktop tokens
    hot: bool
    marked_hot: bool
    start_seq: int  # the group's last seq before the run's first message


def _auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


async def _login_desktop(client: httpx.AsyncClient, user: User) -> User:
    response = await _post(
        client,
        "/auth/login",
        {"username": user.username, "password": PASSWORD, "device": "desktop"},
    )
    if response.status_code != 200:
        raise SetupError(f"login {user.username} failed: {_error(response)}")
    return User(id=user.id, username=user.username, token=response.json()["access_token"])


async def make_group(
    base: str,
    members: int,
    senders: int,
    run_id: int,
    hot: bool,
    progress: bool = True,
    concurrency: int = 16,
) -> GroupSetup:
    from tqdm import tqdm

    with tqdm(
        total=members, desc="registering", unit="user", disable=not progress, file=sys.stderr
    ) as bar:
        users = await register_users(
            base, members, run_id, concurrency=concurrency, on_done=lambda: bar.update(1)
        )
    owner = users[0]
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=300.0) as client:
        created = await _post(
            client,
            "/groups",
            {"name": f"bench {run_id:x}", "member_ids": [u.id for u in users[1:]]},
            owner.token,
        )
        if created.status_code != 201:
            raise SetupError(f"create group failed: {_error(created)}")
        group: dict[str, Any] = created.json()
        gid = int(group["id"])
        if hot and not group["hot"]:
            marked = await client.patch(f"/groups/{gid}", json={"hot": True}, headers=_auth(owner))
            if marked.status_code != 200:
                raise SetupError(f"marking the group hot failed: {_error(marked)}")
            group = marked.json()
        if bool(group["hot"]) != hot:
            raise SetupError(f"the group is {'hot' if group['hot'] else 'not hot'}: {group}")
        desktops = [await _login_desktop(client, u) for u in users[:senders]]
        found = await client.get(f"/conversations/{gid}", headers=_auth(owner))
        if found.status_code != 200:
            raise SetupError(f"GET /conversations/{gid} failed: {_error(found)}")
        start_seq = int(found.json()["last_seq"])
    return GroupSetup(
        gid, users, desktops, bool(group["hot"]), bool(group["marked_hot"]), start_seq
    )


async def history(base: str, user: User, conversation_id: int, after: int) -> list[dict[str, Any]]:
    """Every message after ``after``, paged forward as a client would."""
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=60.0) as client:
        while True:
            response = await client.get(
                f"/conversations/{conversation_id}/messages",
                params={"after": after, "limit": 200},
                headers=_auth(user),
            )
            if response.status_code != 200:
                raise SetupError(f"history read failed: {_error(response)}")
            page = response.json()
            out.extend(page["messages"])
            if page["messages"]:
                after = int(page["messages"][-1]["seq"])
            if not page["has_more"]:
                return out
