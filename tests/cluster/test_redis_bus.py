"""The Redis registry and delivery queues on their own, against the local Redis (each test
under its own key prefix, deleted afterwards)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import pytest
import redis.asyncio as aioredis

from pigeon.actions.throttle import take as take_attempt
from pigeon.bus.delivery import Delivery, Location
from pigeon.bus.publication import Publication, ToUsers
from pigeon.bus.redis_connections import RedisConnections
from pigeon.bus.redis_fanout import MAX_DELIVERIES, RedisFanoutQueue
from pigeon.bus.redis_gateways import RedisGatewayDirectory
from pigeon.bus.redis_limits import RedisLimiter
from pigeon.bus.redis_notices import RedisNoticeBook
from pigeon.bus.redis_presence import RedisPresenceBook
from pigeon.bus.redis_queue import RedisQueue
from pigeon.bus.registry import GatewayInfo
from pigeon.common.errors import RateLimited
from pigeon.common.settings import RedisSettings
from tests.cluster.harness import REDIS_URL, delete_redis_prefix, require_services
from tests.notice_scenarios import SCENARIOS, Scenario

pytestmark = [pytest.mark.asyncio, pytest.mark.cluster]


@pytest.fixture
async def settings() -> AsyncIterator[RedisSettings]:
    require_services()
    prefix = f"pb{uuid.uuid4().hex[:10]}"
    yield RedisSettings(
        url=REDIS_URL, key_prefix=prefix, registry_ttl_s=60, gateway_ttl_s=1, queue_maxlen=100
    )
    delete_redis_prefix(REDIS_URL, prefix)


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(REDIS_URL)
    yield redis
    await redis.aclose()


def delivery(n: int) -> Delivery:
    return Delivery(frame=f'{{"n":{n}}}', user_ids=[n])


async def take(queue: RedisQueue, gateway_id: str, count: int) -> list[Delivery]:
    """Read ``count`` entries and stop without finishing the batch (as a crash would)."""
    got: list[Delivery] = []
    stream = queue.consume(gateway_id)
    async for item in stream:
        got.append(item)
        if len(got) == count:
            break
    return got


async def test_entries_taken_by_a_crashed_consumer_are_delivered_again(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    first = RedisQueue(client, settings)
    for n in range(5):
        await first.push("gw1", delivery(n))
    taken = await take(first, "gw1", 2)
    assert [d.user_ids for d in taken] == [[0], [1]]
    # A new incarnation of the same gateway: everything comes again, in order, once.
    second = RedisQueue(client, settings)
    again = await take(second, "gw1", 5)
    assert [d.user_ids[0] for d in again] == [0, 1, 2, 3, 4]


async def test_a_finished_batch_is_acknowledged_and_deleted(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    queue = RedisQueue(client, settings)
    for n in range(3):
        await queue.push("gw1", delivery(n))
    # consume() is an async generator; the queue protocol only promises an iterator, but
    # the test closes the stream explicitly.
    stream = cast(AsyncGenerator[Delivery, None], queue.consume("gw1"))
    for _ in range(3):
        await anext(stream)
    # Asking for the next entry finishes the batch; nothing is queued, so it waits.
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.3)
    assert await queue.length("gw1") == 0
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await stream.aclose()


async def test_queues_are_trimmed_and_expire(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    queue = RedisQueue(client, settings)
    for n in range(1000):
        await queue.push("dead", delivery(n))
    assert await queue.length("dead") <= 2 * settings.queue_maxlen
    key = f"{settings.key_prefix}:unread:{{dead}}"
    assert 0 < await client.pttl(key) <= settings.queue_expire_s * 1000


async def test_many_sockets_per_user_and_unregister_only_if_owned(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    connections = RedisConnections(client, settings)
    tab1 = Location("gw1", "dev-a", "c1", "web")
    tab2 = Location("gw2", "dev-a", "c2", "web")  # a second tab of the same browser
    firefox = Location("gw2", "dev-b", "c3", "web")
    phone = Location("gw3", "dev-c", "c4", "mobile")
    for location in (tab1, tab2, firefox, phone):
        assert await connections.register(7, location)
    assert await connections.locate([7, 8]) == {"gw1": [7], "gw2": [7], "gw3": [7]}
    assert await connections.devices([7, 8]) == {7: ["mobile", "web"]}
    assert await connections.locate_devices([7]) == {
        "gw1": [(7, "dev-a")],
        "gw2": [(7, "dev-a"), (7, "dev-b")],
        "gw3": [(7, "dev-c")],
    }
    assert not await connections.unregister(7, Location("gw9", "dev-a", "c1", "web"))
    assert await connections.unregister(7, tab1)
    assert await connections.unregister(7, phone)
    assert await connections.devices([7]) == {7: ["web"]}
    found = await connections.locations([7])
    assert sorted(loc.connection_id for loc in found[7]) == ["c2", "c3"]


async def test_the_cap_refuses_one_socket_too_many_atomically(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    connections = RedisConnections(client, settings)
    tries = [Location(f"gw{n % 3}", f"dev{n}", f"c{n}", "web") for n in range(10)]
    admitted = await asyncio.gather(*(connections.register(3, loc, cap=4) for loc in tries))
    assert sum(admitted) == 4
    assert len((await connections.locations([3]))[3]) == 4
    kept = [loc for loc, ok in zip(tries, admitted, strict=True) if ok]
    assert await connections.register(3, kept[0], cap=4)  # the same socket again is no new one
    await connections.unregister(3, kept[1])
    refused = [loc for loc, ok in zip(tries, admitted, strict=True) if not ok]
    assert await connections.register(3, refused[0], cap=4)  # room again
    assert not await connections.register(3, refused[1], cap=4)


async def test_a_killed_gateways_sockets_expire_one_by_one(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    """A gateway killed with kill -9 never unregisters: its entries expire, and the next
    write to the user's hash drops them, although other sockets keep the key alive."""
    short = settings.model_copy(update={"registry_ttl_s": 0.3})
    connections = RedisConnections(client, short)
    await connections.register(4, Location("gw-dead", "dev-a", "c1", "desktop"))
    await connections.register(4, Location("gw1", "dev-b", "c2", "web"))
    for _ in range(3):
        await asyncio.sleep(0.2)
        await connections.refresh([(4, Location("gw1", "dev-b", "c2", "web"))])
    assert await connections.devices([4]) == {4: ["web"]}
    stored = await client.hkeys(f"{settings.key_prefix}:conn:{{4}}")
    assert stored == [b"c2"]  # the dead one is gone from the hash, not only hidden
    # Stale entries do not count against the cap either.
    await connections.register(5, Location("gw-dead", "dev-a", "c3", "web"), cap=1)
    await asyncio.sleep(0.35)
    assert await connections.register(5, Location("gw1", "dev-b", "c4", "web"), cap=1)


async def test_refresh_recreates_lost_entries(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    connections = RedisConnections(client, settings)
    mine = Location("gw1", "dev-a", "c1", "web")
    await connections.register(1, mine)
    await connections.register(2, Location("gw1", "dev-b", "c2", "web"))
    await connections.register(2, Location("gw2", "dev-c", "c9", "mobile"))
    await client.delete(f"{settings.key_prefix}:conn:{{1}}")  # as if Redis lost it
    result = await connections.refresh([(1, mine), (2, Location("gw1", "dev-b", "c2", "web"))])
    assert result.recreated == [1]
    assert await connections.locate([1, 2]) == {"gw1": [1, 2], "gw2": [2]}


async def test_presence_settles_once_per_change(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    connections = RedisConnections(client, settings)
    presence = RedisPresenceBook(client, settings)
    web = Location("gw1", "dev-a", "c1", "web")
    second_tab = Location("gw2", "dev-a", "c2", "web")
    await connections.register(5, web)
    assert await presence.settle(5) == ["web"]
    assert await presence.settle(5) is None  # a second settler sees no change
    await connections.register(5, second_tab)
    assert await presence.settle(5) is None  # still "web": friends hear nothing new
    await connections.unregister(5, second_tab)
    await connections.unregister(5, web)
    await presence.mark_dirty([5], 0.2)
    assert await presence.claim_dirty(10, 30) == []  # not due yet
    assert await presence.claim_dirty(10, 30, ahead_s=5) == [5]  # due soon: taken early
    await presence.mark_dirty([5], 0.2)
    await asyncio.sleep(0.25)
    assert await presence.claim_dirty(10, 30) == [5]
    assert await presence.claim_dirty(10, 30) == []  # leased to the first claimer
    await presence.mark_dirty([5], 0.0)  # changed again while being settled
    assert await presence.settle(5) == []
    await presence.release_dirty([5])
    assert await presence.claim_dirty(10, 30) == [5]  # the new mark survived


async def test_dead_gateways_are_swept_and_live_ones_are_not(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    connections = RedisConnections(client, settings)
    directory = RedisGatewayDirectory(client, settings)
    queue = RedisQueue(client, settings)
    await directory.report_gateway(GatewayInfo("gw1", "ws://a/ws", 1))
    await directory.report_gateway(GatewayInfo("gw2", "ws://b/ws", 1))
    await connections.register(1, Location("gw1", "dev-a", "c1", "web"))
    await connections.register(1, Location("gw2", "dev-b", "c2", "mobile"))
    await connections.register(2, Location("gw2", "dev-c", "c3", "web"))
    await queue.push("gw2", delivery(1))
    await asyncio.sleep(1.1)
    await directory.report_gateway(GatewayInfo("gw1", "ws://a/ws", 1))
    assert await directory.dead_gateways() == ["gw2"]
    assert [g.gateway_id for g in await directory.live_gateways()] == ["gw1"]
    assert not await directory.lock_sweep("gw1")  # alive: never swept
    assert await directory.lock_sweep("gw2")
    assert not await directory.lock_sweep("gw2")  # one sweeper at a time
    assert sorted(await connections.drop_gateway("gw2")) == [1, 2]
    await queue.discard("gw2")
    await directory.forget("gw2")
    await directory.unlock_sweep("gw2")
    assert await connections.devices([1, 2]) == {1: ["web"]}
    assert await queue.length("gw2") == 0
    assert await directory.dead_gateways() == []
    # Back under the same id: the directory says it did not know it, so it re-registers.
    assert await directory.report_gateway(GatewayInfo("gw2", "ws://b/ws", 0))


async def test_one_presence_settler_per_user_at_a_time(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    presence = RedisPresenceBook(client, settings)
    assert await presence.lock(9, 5)
    assert not await presence.lock(9, 5)
    assert await presence.lock(10, 5)  # other users are independent
    await presence.unlock(9)
    assert await presence.lock(9, 0.2)
    await asyncio.sleep(0.3)  # a holder that died: the lock expires
    assert await presence.lock(9, 5)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_notice_book_on_redis_follows_the_rules(
    settings: RedisSettings, client: aioredis.Redis, scenario: Scenario
) -> None:
    """The Lua scripts against the same scenarios as the in-process book."""
    await scenario(RedisNoticeBook(client, settings))


async def test_notice_book_keys_expire(settings: RedisSettings, client: aioredis.Redis) -> None:
    book = RedisNoticeBook(client, settings)
    await book.seed(40, {(1, "web"): 0})
    assert 0 < await client.pttl(f"{settings.key_prefix}:stubs:{{40}}") <= 7 * 24 * 3600 * 1000


def fanout_settings(settings: RedisSettings) -> RedisSettings:
    return settings.model_copy(update={"fanout_claim_idle_s": 0.2})


def publication(n: int) -> ToUsers:
    return ToUsers(frame=f'{{"n":{n}}}', frame_type="event", user_ids=[n])


def users_of(batch: list[Publication]) -> list[list[int]]:
    return [p.user_ids for p in batch if isinstance(p, ToUsers)]


async def take_batch(queue: RedisFanoutQueue, consumer: str) -> list[Publication]:
    """One batch, then stop without finishing it (as a worker killed mid-batch would)."""
    stream = queue.consume(consumer)
    batch = await anext(stream)
    return batch


async def test_fan_out_entries_of_a_dead_worker_go_to_another(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    queue = RedisFanoutQueue(client, fanout_settings(settings))
    assert await queue.oldest_ms() is None
    await queue.push([publication(n) for n in range(3)])
    oldest = await queue.oldest_ms()
    assert oldest is not None
    assert abs(oldest - int(time.time() * 1000)) < 5000
    assert users_of(await take_batch(queue, "dead")) == [[0], [1], [2]]
    await asyncio.sleep(0.3)  # idle past the claim time: the dead worker's are claimable
    survivor = queue.consume("alive")
    again = await anext(survivor)
    assert users_of(again) == [[0], [1], [2]]
    await queue.push([publication(9)])
    nxt = await anext(survivor)  # asking for more finishes the first batch
    assert users_of(nxt) == [[9]]
    await anext_or_timeout(survivor, 0.8)  # finishes [9]; nothing else is waiting
    assert await queue.backlog() == 0
    await survivor.aclose()


async def anext_or_timeout(stream: AsyncGenerator[list[Publication], None], wait: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(anext(stream), wait)


async def test_an_entry_that_fails_every_worker_is_dropped(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    queue = RedisFanoutQueue(client, fanout_settings(settings))
    await queue.push([publication(1)])
    for attempt in range(MAX_DELIVERIES):
        await asyncio.sleep(0.25)
        got = await asyncio.wait_for(take_batch(queue, f"w{attempt}"), 2)
        assert users_of(got) == [[1]]
    await asyncio.sleep(0.25)
    stream = queue.consume("last")
    await anext_or_timeout(stream, 1.0)  # claims nothing: the entry was dropped
    assert await queue.backlog() == 0
    await stream.aclose()


async def test_rate_limits_are_shared_and_counted_atomically(
    settings: RedisSettings, client: aioredis.Redis
) -> None:
    # Two API servers, each with its own limiter on the same Redis.
    servers = [RedisLimiter(client, settings), RedisLimiter(client, settings)]

    async def attempt(n: int) -> bool:
        try:
            await take_attempt(servers[n % 2], "login:account:ann", 10, 60, "failed logins")
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(attempt(n) for n in range(40)))
    assert sum(results) == 10
    count, left = await servers[0].hit("login:account:ann", 60)
    assert count == 41
    assert 0 < left <= 60
    await servers[1].refund("login:account:bob")  # nothing to refund: no key appears
    assert await client.exists(servers[1].key("login:account:bob")) == 0


async def test_a_limiter_without_redis_lets_attempts_through(settings: RedisSettings) -> None:
    down = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RedisLimiter(down, settings)
    for _ in range(3):
        await take_attempt(limiter, "k", 1, 60, "tries")
    assert limiter.outage.active
    await down.aclose()
