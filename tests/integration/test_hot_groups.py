"""Hot groups under load: push + pull must wake every online device until it holds the
last message, with no reconnect, however the notices, pulls and sends interleave. Runs on
the session server (embedded, or a cluster with ``PIGEON_TEST_MODE=cluster``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect

from pigeon.client import ApiError, PigeonClient
from tests.conftest import MakeClient
from tests.harness import ServerProcess
from tests.helpers import expect_event, make_friends

pytestmark = pytest.mark.asyncio

MEMBERS = 50
SENDERS = 3
RATE_PER_S = 20
SECONDS = 10
SETTLE_S = 30.0  # generous: this asserts no stall, the chaos run measures time
CONNECT_BATCH = 5


async def _hot_group(
    make_client: MakeClient, count: int
) -> tuple[PigeonClient, list[PigeonClient], int]:
    """A group of ``count`` connected users, made hot by its owner through the API."""
    owner = await make_client()
    members: list[PigeonClient] = []
    while len(members) < count - 1:  # a few at a time: a busy machine connects slowly
        batch = min(CONNECT_BATCH, count - 1 - len(members))
        members += await asyncio.gather(*(make_client() for _ in range(batch)))
    for member in members:
        await make_friends(owner, member)
    group = await owner.request(
        "POST", "/groups", json={"name": "town hall", "member_ids": [m.user_id for m in members]}
    )
    group_id = int(group["id"])
    assert group["hot"] is False  # below the size threshold
    for client in (owner, *members):
        await expect_event(client, "group_updated", change="group_created")
        tip = await client.next_message()
        assert tip["body"]["event"] == "group_created"
    with pytest.raises(ApiError) as refused:
        await members[0].request("PATCH", f"/groups/{group_id}", json={"hot": True})
    assert (refused.value.status, refused.value.code) == (403, "not_admin")
    marked = await owner.request("PATCH", f"/groups/{group_id}", json={"hot": True})
    assert (marked["hot"], marked["marked_hot"]) == (True, True)
    await expect_event(members[0], "group_updated", change="hot_changed")
    return owner, members, group_id


async def _send_steadily(client: PigeonClient, group_id: int, tag: str) -> list[int]:
    seqs: list[int] = []
    interval = 1 / RATE_PER_S
    started = time.monotonic()
    for n in range(RATE_PER_S * SECONDS):
        ack = await client.send_text(f"{tag} {n}", conversation_id=group_id)
        seqs.append(int(ack["seq"]))
        delay = started + (n + 1) * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return seqs


def _in_order_seqs(client: PigeonClient, group_id: int) -> list[int]:
    return [int(m["seq"]) for m in client.messages.get(group_id, [])]


async def test_every_member_of_a_busy_hot_group_reaches_the_end(make_client: MakeClient) -> None:
    owner, members, group_id = await _hot_group(make_client, MEMBERS + 1)
    senders = members[:SENDERS]
    everyone = [owner, *members]
    sent = await asyncio.gather(
        *(_send_steadily(s, group_id, f"s{i}") for i, s in enumerate(senders))
    )
    acked = sorted(seq for seqs in sent for seq in seqs)
    assert len(set(acked)) == SENDERS * RATE_PER_S * SECONDS  # every ack its own seq
    last = acked[-1]
    deadline = time.monotonic() + SETTLE_S
    behind = everyone
    while behind and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        behind = [c for c in everyone if client_last(c, group_id) < last]
    assert not behind, {c.user_id: client_last(c, group_id) for c in behind}
    for client in everyone:
        assert client.reconnects == 0
        seqs = _in_order_seqs(client, group_id)
        assert seqs == sorted(set(seqs))  # no duplicate, no reorder
        assert set(acked) <= set(seqs)  # every acked message, the own ones included


def client_last(client: PigeonClient, group_id: int) -> int:
    return client.inbox.last_seq.get(group_id, 0)


async def test_a_send_in_a_hot_group_wakes_the_senders_other_tab(
    make_client: MakeClient, server: ServerProcess
) -> None:
    """The sending socket holds its message (the ack), and its device's read stub says so;
    another tab of the same browser (same device) does not, and gets a notice."""
    _owner, members, group_id = await _hot_group(make_client, 2)
    sender = members[0]
    tab = await connect(server.ws_url)
    await tab.send(json.dumps({"type": "auth", "token": sender.access_token}))
    assert json.loads(await tab.recv())["type"] == "hello"
    ack = await sender.send_text("from tab one", conversation_id=group_id)

    async def notice() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(await tab.recv())
            if frame["type"] == "notice" and frame["conversation_id"] == group_id:
                return frame

    assert (await asyncio.wait_for(notice(), 5))["last_seq"] == ack["seq"]
    await tab.close()


async def test_hot_group_pushes_notices_not_messages(make_client: MakeClient) -> None:
    owner, members, group_id = await _hot_group(make_client, 3)
    reader = members[0]
    ack = await owner.send_text("to many", conversation_id=group_id)
    notice = await reader.wait_for(
        lambda f: f["type"] == "notice" and f["conversation_id"] == group_id, timeout=5
    )
    assert notice["last_seq"] == ack["seq"]
    pulled = await reader.next_message()  # the SDK pulled after the notice
    assert (pulled["seq"], pulled["body"]["text"]) == (ack["seq"], "to many")
