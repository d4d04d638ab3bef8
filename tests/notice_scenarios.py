"""Hot-group notice book scenarios, run against every implementation (in-process, Redis).

Each names an interleaving of fan-outs, pulls, reads and own messages, and asserts which
devices are woken. ``C`` is the conversation; member 1 is online on the web and on a
phone, member 2 on the web, member 9 never connected until late.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pigeon.bus.notices import DeviceKey, NoticeBook

C = 40
WEB: DeviceKey = (1, "web")
PHONE: DeviceKey = (1, "mobile")
OTHER: DeviceKey = (2, "web")
LATE: DeviceKey = (9, "web")
Scenario = Callable[[NoticeBook], Awaitable[None]]


async def woken(
    book: NoticeBook, seq: int, devices: list[DeviceKey], sender: DeviceKey | None = None
) -> list[DeviceKey]:
    wakes = await book.on_message(C, seq, sender, devices)
    assert wakes.unknown == []
    return sorted(wakes.notify)


async def a_device_behind_is_woken_once_per_pull(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 5})
    assert await woken(book, 6, [WEB]) == [WEB]
    for seq in (7, 8, 9):  # a burst: the notice already sent covers it
        assert await woken(book, seq, [WEB]) == []
    assert await book.on_catch_up(C, WEB, 9) is None  # pulled to the end: settled
    assert await woken(book, 10, [WEB]) == [WEB]  # woken again


async def a_pull_that_read_before_the_fan_out_is_woken_again(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 5})
    assert await woken(book, 6, [WEB]) == [WEB]
    # The pull reads the page (up to 6); message 7 commits and fans out before the pull
    # records where it got to: the fan-out sees the outstanding notice and sends nothing,
    # so the pull's record must owe a notice for 7.
    assert await woken(book, 7, [WEB]) == []
    assert await book.on_catch_up(C, WEB, 6) == 7
    assert await woken(book, 8, [WEB]) == []  # the notice for 7 is out
    assert await book.on_catch_up(C, WEB, 8) is None


async def a_pull_that_read_after_the_commit_needs_nothing_more(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 5})
    assert await woken(book, 6, [WEB]) == [WEB]
    # Message 7 committed; the pull read up to 7 and records it before 7's fan-out.
    assert await book.on_catch_up(C, WEB, 7) is None
    assert await woken(book, 7, [WEB]) == []  # not behind: nothing
    assert await woken(book, 8, [WEB]) == [WEB]


async def a_message_fanned_out_again_sends_its_notice_again(book: NoticeBook) -> None:
    # The first fan-out of 6 decided and died before queueing the notice; its hand-off
    # brings it back, and the notice it owes is sent again (not held back as "out").
    await book.seed(C, {WEB: 5})
    assert await woken(book, 6, [WEB]) == [WEB]
    assert await woken(book, 6, [WEB]) == [WEB]
    assert await woken(book, 7, [WEB]) == []  # a later message is covered by it
    assert await book.on_catch_up(C, WEB, 7) is None


async def each_device_has_its_own_stub(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 5, PHONE: 5})
    assert await woken(book, 6, [WEB, PHONE]) == [PHONE, WEB]
    # The web pulls past 7 before 7 is fanned out; the phone has not pulled at all.
    assert await book.on_catch_up(C, WEB, 7) is None
    assert await woken(book, 7, [WEB, PHONE]) == []  # web holds it, phone's notice is out
    assert await book.on_catch_up(C, PHONE, 6) == 7  # the phone's pull ended before 7
    assert await book.on_catch_up(C, WEB, 3) is None  # a stale pull never moves it back
    assert await woken(book, 8, [WEB, PHONE]) == [WEB]


async def own_message_of_a_device_up_to_date_owes_it_nothing(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 5, PHONE: 5, OTHER: 5})
    # Sent from the web: the phone and member 2 are woken, the web holds it.
    assert await woken(book, 6, [WEB, PHONE, OTHER], sender=WEB) == [PHONE, OTHER]
    # Nothing is outstanding for the web, so the next message wakes it.
    assert await woken(book, 7, [WEB, OTHER], sender=OTHER) == [WEB]


async def own_message_of_a_device_behind_wakes_it(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 3})
    assert await woken(book, 6, [WEB], sender=WEB) == [WEB]  # 4 and 5 are missing
    assert await book.on_catch_up(C, WEB, 6) is None
    assert await woken(book, 7, [WEB]) == [WEB]


async def a_read_up_to_the_latest_counts_as_caught_up(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 5})
    assert await woken(book, 6, [WEB]) == [WEB]
    assert await book.on_catch_up(C, WEB, 6) is None  # a read frame up to 6
    assert await woken(book, 7, [WEB]) == [WEB]


async def devices_that_never_connected_cost_nothing(book: NoticeBook) -> None:
    # The creation tip reaches the online devices only; 9 has no stub at all.
    await book.seed(C, {WEB: 0, OTHER: 0})
    assert await woken(book, 1, [WEB, OTHER]) == [WEB, OTHER]
    # 9 connects later and is online for message 2: unknown, to be seeded from the
    # database (read marker 0), then woken like any device behind.
    first = await book.on_message(C, 2, None, [LATE])
    assert first.unknown == [LATE]
    await book.seed(C, {LATE: 0})
    assert await woken(book, 2, [LATE]) == [LATE]


async def lost_stubs_are_rebuilt_from_read_markers(book: NoticeBook) -> None:
    # Nothing known (as after Redis restarted empty): catch-ups do nothing, a fan-out
    # asks for seeds, and a device whose marker is current is not woken.
    assert await book.on_catch_up(C, WEB, 10) is None
    assert sorted((await book.on_message(C, 11, None, [WEB, OTHER])).unknown) == [WEB, OTHER]
    await book.seed(C, {WEB: 11, OTHER: 4})
    assert await woken(book, 11, [WEB, OTHER]) == [OTHER]
    await book.seed(C, {WEB: 0})  # a seed never overwrites a stub
    assert await woken(book, 12, [WEB]) == [WEB]


async def conversations_are_independent(book: NoticeBook) -> None:
    await book.seed(C, {WEB: 0})
    await book.seed(C + 1, {WEB: 0})
    assert await woken(book, 1, [WEB]) == [WEB]
    assert (await book.on_message(C + 1, 1, None, [WEB])).notify == [WEB]


SCENARIOS: list[Scenario] = [
    a_device_behind_is_woken_once_per_pull,
    a_pull_that_read_before_the_fan_out_is_woken_again,
    a_pull_that_read_after_the_commit_needs_nothing_more,
    a_message_fanned_out_again_sends_its_notice_again,
    each_device_has_its_own_stub,
    own_message_of_a_device_up_to_date_owes_it_nothing,
    own_message_of_a_device_behind_wakes_it,
    a_read_up_to_the_latest_counts_as_caught_up,
    devices_that_never_connected_cost_nothing,
    lost_stubs_are_rebuilt_from_read_markers,
    conversations_are_independent,
]
