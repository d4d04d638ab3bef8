"""The hot-group notice rules: the shared scenarios on the in-process book, and every
interleaving of a small model, checked for lost wake-ups.

The model: one member with two devices that follow docs/protocol.md (pull on every
notice; a notice during a pull asks for one more pull; an ack that leaves a gap pulls),
each with its own stub, messages from others committed in order and fanned out in any
order (workers race), one message of the member's own from device 0, and a ``read`` from
device 1. A pull is two steps (read the page, then record where it got to), so fan-outs
can fall between them; a pull the group outran meanwhile answers "more" and goes on. One
fan-out may die after deciding and before queueing its notices (the stubs moved, nothing
was sent); the message is then fanned out again, as its hand-off row makes happen. Every
reachable end state must have both devices at the conversation's last seq.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from pigeon.bus.memory import MemoryNoticeBook
from pigeon.bus.notice_rules import Stub, after_catch_up, after_message, after_own_message
from tests.notice_scenarios import SCENARIOS, Scenario

OTHERS = 2  # messages from other members
DEVICES = 2


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_notice_book_in_memory_follows_the_rules(scenario: Scenario) -> None:
    await scenario(MemoryNoticeBook())


@dataclass(frozen=True)
class Device:
    position: int = 0
    inbox: int = 0  # notices delivered to the socket, not yet handled
    pull: str = "idle"  # idle -> start -> read -> (recorded) idle
    reading: int = 0
    again: bool = False


@dataclass(frozen=True)
class World:
    committed: tuple[str, ...] = ()  # by seq - 1: "other" or "own"
    fanned: frozenset[int] = frozenset()
    others_left: int = OTHERS
    own_left: int = 1
    read_left: int = 1
    failures_left: int = 1
    stubs: tuple[Stub, ...] = (Stub(0, 0),) * DEVICES
    latest: int = 0
    devices: tuple[Device, ...] = (Device(),) * DEVICES

    def with_device(self, index: int, device: Device) -> World:
        devices = list(self.devices)
        devices[index] = device
        return replace(self, devices=tuple(devices))

    def with_stub(self, index: int, stub: Stub) -> World:
        stubs = list(self.stubs)
        stubs[index] = stub
        return replace(self, stubs=tuple(stubs))

    def notify(self, indices: list[int]) -> World:
        world = self
        for i in indices:
            device = world.devices[i]
            world = world.with_device(i, replace(device, inbox=device.inbox + 1))
        return world


def start_pull(device: Device) -> Device:
    if device.pull == "idle":
        return replace(device, pull="start")
    return replace(device, again=True)


def successors(w: World) -> list[World]:
    out: list[World] = []
    last = len(w.committed)
    if w.others_left:
        out.append(replace(w, committed=(*w.committed, "other"), others_left=w.others_left - 1))
    if w.own_left:
        # Device 0 sends: stored at the next seq, acked to device 0.
        seq = last + 1
        sender = w.devices[0]
        acked = replace(sender, position=seq) if seq == sender.position + 1 else start_pull(sender)
        world = replace(w, committed=(*w.committed, "own"), own_left=0).with_device(0, acked)
        out.append(world)
    for seq in range(1, last + 1):
        if seq in w.fanned:
            continue
        own = w.committed[seq - 1] == "own"
        decided = replace(w, latest=max(w.latest, seq))
        woken = []
        for i in range(DEVICES):
            rule = after_own_message if own and i == 0 else after_message
            stub, notify = rule(w.stubs[i], seq)
            decided = decided.with_stub(i, stub)
            if notify:
                woken.append(i)
        out.append(replace(decided, fanned=w.fanned | {seq}).notify(woken))
        if w.failures_left:
            # Died before queueing: stubs moved, nothing sent, the message goes again.
            out.append(replace(decided, failures_left=w.failures_left - 1))
    if w.read_left and w.devices[1].pull == "idle":
        stub, owed = after_catch_up(w.stubs[1], w.devices[1].position, w.latest)
        world = replace(w, read_left=0).with_stub(1, stub)
        out.append(world.notify([1]) if owed else world)
    for i, device in enumerate(w.devices):
        if device.inbox:
            out.append(w.with_device(i, start_pull(replace(device, inbox=device.inbox - 1))))
        if device.pull == "start":
            out.append(w.with_device(i, replace(device, pull="read", reading=last)))
        if device.pull == "read":
            stub, behind = after_catch_up(w.stubs[i], device.reading, w.latest)
            # A pull the group outran answers "more": the device pulls on at once.
            done = replace(
                device,
                position=max(device.position, device.reading),
                pull="start" if device.again or behind else "idle",
                again=False,
            )
            out.append(w.with_stub(i, stub).with_device(i, done))
    return out


def test_no_interleaving_loses_a_wake_up() -> None:
    seen: set[World] = set()
    stack = [World()]
    ends = 0
    while stack:
        world = stack.pop()
        if world in seen:
            continue
        seen.add(world)
        following = successors(world)
        if following:
            stack.extend(following)
            continue
        ends += 1
        last = len(world.committed)
        assert last == OTHERS + 1
        assert [d.position for d in world.devices] == [last] * DEVICES, world
    # The model really branched: many end states, tens of thousands of states.
    assert ends > 1
    assert len(seen) > 10_000


def test_a_device_not_behind_is_never_woken() -> None:
    stub = Stub(read=7, owed=0)
    assert after_message(stub, 7) == (stub, False)
    assert after_catch_up(stub, 7, latest=7) == (stub, False)


def test_a_burst_costs_one_notice() -> None:
    stub, notify = after_message(Stub(read=0, owed=0), 1)
    assert notify
    for seq in range(2, 50):
        stub, notify = after_message(stub, seq)
        assert not notify
    assert after_catch_up(stub, 49, latest=49) == (Stub(49, 0), False)


def test_a_shared_stub_would_lose_a_wake_up() -> None:
    """Why stubs are per device: with one stub for both devices, the web's pull past a
    message not yet fanned out makes its fan-out skip the phone, which then never hears
    of it. (The same steps with per-device stubs wake the phone.)"""
    shared = Stub(read=6, owed=0)
    shared, _ = after_catch_up(shared, 7, latest=6)  # web pulled up to 7
    _, notify_shared = after_message(shared, 7)  # 7's fan-out
    assert not notify_shared  # the phone, at 6, is left behind
    phone = Stub(read=6, owed=0)
    _, notify_phone = after_message(phone, 7)
    assert notify_phone
