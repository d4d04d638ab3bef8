"""Users and rooms for a Synapse run, through the client and admin HTTP APIs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from bench.accounts import SetupError

T = TypeVar("T")
CONCURRENCY = 8

# Only our own messages, and nothing else a receiver's /sync would otherwise carry.
MESSAGE_FILTER: dict[str, Any] = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "state": {"types": []},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
        "timeline": {"types": ["m.room.message"], "limit": 1000},
    },
    "event_fields": ["event_id", "content"],
}


def sync_filter(limit: int = 1000) -> str:
    """The filter as /sync takes it inline; ``limit`` high enough that no sync is cut."""
    room = {**MESSAGE_FILTER["room"], "timeline": {"types": ["m.room.message"], "limit": limit}}
    return json.dumps({**MESSAGE_FILTER, "room": room}, separators=(",", ":"))


@dataclass(frozen=True)
class MatrixUser:
    user_id: str
    token: str


@dataclass(frozen=True)
class Room:
    room_id: str
    sender: MatrixUser
    receiver: MatrixUser
    since: str  # the receiver's next_batch once it has joined


def registration_mac(secret: str, nonce: str, user: str, password: str) -> str:
    """HMAC-SHA1 over nonce, user, password and the admin flag, as the admin API wants."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    for part in (nonce, user, password):
        mac.update(part.encode())
        mac.update(b"\x00")
    mac.update(b"notadmin")
    return mac.hexdigest()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise SetupError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


async def register(client: httpx.AsyncClient, secret: str, name: str) -> MatrixUser:
    path = "/_synapse/admin/v1/register"
    nonce = _json(await client.get(path), "registration nonce")["nonce"]
    password = f"pw-{name}"
    body = {
        "nonce": nonce,
        "username": name,
        "password": password,
        "admin": False,
        "mac": registration_mac(secret, nonce, name, password),
    }
    got = _json(await client.post(path, json=body), f"registering {name}")
    return MatrixUser(got["user_id"], got["access_token"])


async def open_room(client: httpx.AsyncClient, sender: MatrixUser, receiver: MatrixUser) -> Room:
    """A private chat made by the sender, the receiver invited and joined."""
    created = _json(
        await client.post(
            "/_matrix/client/v3/createRoom",
            json={"preset": "private_chat", "invite": [receiver.user_id], "is_direct": True},
            headers=auth(sender.token),
        ),
        "createRoom",
    )
    room_id = created["room_id"]
    _json(
        await client.post(
            f"/_matrix/client/v3/join/{quote(room_id)}", json={}, headers=auth(receiver.token)
        ),
        "join",
    )
    synced = _json(
        await client.get(
            "/_matrix/client/v3/sync",
            params={"filter": sync_filter(1), "timeout": "0"},
            headers=auth(receiver.token),
        ),
        "initial sync",
    )
    return Room(room_id, sender, receiver, synced["next_batch"])


async def _bounded(jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def prepare_rooms(base: str, secret: str, pairs: int, run_id: int) -> list[Room]:
    """2 * ``pairs`` users and a room for each pair (sender 2i, receiver 2i+1)."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        users = await _bounded(
            [partial(register, client, secret, f"bench{run_id:x}u{i}") for i in range(2 * pairs)]
        )
        return await _bounded(
            [partial(open_room, client, users[2 * i], users[2 * i + 1]) for i in range(pairs)]
        )
