"""Pigeon users for a run, made through the public HTTP API only.

Register 2 x P users, make each pair friends where the server has friend requests, and
(in cluster mode) ask the API which gateway each user should connect to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "Bench-pass-2024"


class SetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    username: str
    token: str


def _error(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.request.url.path}: {response.text[:300]}"


async def _post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for attempt in range(20):
        response = await client.post(path, json=body, headers=headers)
        if response.status_code != 429:
            return response
        await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
    return response


async def register_users(
    base: str,
    count: int,
    run_id: int,
    concurrency: int = 8,
    on_done: Callable[[], object] | None = None,
) -> list[User]:
    """Register ``count`` users, ``concurrency`` requests at a time; ``on_done`` after each."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=60.0) as client:

        async def one(i: int) -> User:
            name = f"b{run_id:x}_{i}"
            async with gate:
                response = await _post(
                    client,
                    "/auth/register",
                    {
                        "username": name,
                        "password": PASSWORD,
                        "nickname": f"bench {i}",
                        "device": "web",
                    },
                )
            if response.status_code not in (200, 201):
                raise SetupError(f"register {name} failed: {_error(response)}")
            data = response.json()
            if on_done is not None:
                on_done()
            return User(id=int(data["user"]["id"]), username=name, token=data["access_token"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def befriend(base: str, pairs: list[tuple[User, User]], concurrency: int = 8) -> str:
    """Make each (sender, receiver) friends if the server has friend requests.

    Returns "no friend API" (route missing), or "friends" when every pair was made friends.
    """
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=60.0) as client:
        probe_sender, probe_receiver = pairs[0]
        first = await _post(
            client, "/friends/requests", {"user_id": probe_receiver.id}, probe_sender.token
        )
        if first.status_code in (404, 405):  # the receiver exists: it is the route that is missing
            return "no friend API"

        async def one(sender: User, receiver: User, response: httpx.Response | None) -> None:
            async with gate:
                if response is None:
                    response = await _post(
                        client, "/friends/requests", {"user_id": receiver.id}, sender.token
                    )
                if response.status_code not in (200, 201):
                    raise SetupError(f"friend request failed: {_error(response)}")
                request_id = response.json()["id"]
                accept = await _post(
                    client, f"/friends/requests/{request_id}/accept", {}, receiver.token
                )
                if accept.status_code not in (200, 201):
                    raise SetupError(f"friend accept failed: {_error(accept)}")

        await asyncio.gather(
            one(probe_sender, probe_receiver, first),
            *(one(s, r, None) for s, r in pairs[1:]),
        )
        return "friends"


async def gateway_url(client: httpx.AsyncClient, user: User) -> str | None:
    response = await client.get("/gateway", headers={"Authorization": f"Bearer {user.token}"})
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise SetupError(f"GET /api/v1/gateway failed: {_error(response)}")
    url: str = response.json()["url"]
    return url


async def discover_gateways(base: str, users: list[User], rounds: int = 40) -> list[str]:
    """Distinct gateway WebSocket URLs the API hands out (empty if it has no /gateway)."""
    found: list[str] = []
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=30.0) as client:
        for i in range(rounds):
            url = await gateway_url(client, users[i % len(users)])
            if url is None:
                return []
            if url not in found:
                found.append(url)
    return found
