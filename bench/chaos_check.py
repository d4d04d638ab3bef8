"""The chaos run's checker: every sender's acks against every device's received messages.

Pure data in, figures out (no I/O), so it can be tested on synthetic runs. All times are
seconds on one monotonic clock.

For every acknowledged message and every device that should receive it (each device of
each member of the conversation whose ``visible_from_seq`` is below the message's seq,
except the device that sent it over its socket; a message sent over HTTP is due on all of
the sender's devices):

- **lost**: the device never yielded it;
- **late**: the device was connected continuously from before the ack until
  ``late_after`` seconds after it (and its gateway was not stopped in that window), yet
  yielded the message more than ``late_after`` seconds after the ack; or, for a message
  acked while Redis was down or being rebuilt (its window reaches into the outage, or it
  was acked within ``REDIS_BACK_S`` of Redis coming back empty, before the gateways had
  re-registered), more than ``REDIS_BACK_S`` after Redis was back: the bound the delivery
  promise gives for a Redis restarted empty;
- **mismatched**: the device yielded a different message (another ``client_msg_id`` or
  message id) under that conversation and seq.

Over everything each device yielded, acknowledged or not:

- **duplicated**: a (conversation, seq) yielded again;
- **reordered**: a seq yielded for the first time after a higher seq of the same
  conversation;
- **unexpected**: an acknowledged message yielded by a device that should not have it.

Over the acks: two acks of one conversation with the same seq (**seq reused**), and an ack
whose seq is not above that of an ack received before its send began (**ack order**):
seqs are allocated at commit, so a message sent after another was acknowledged must come
after it.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

LATE_AFTER_S = 5.0
REDIS_BACK_S = 10.0
ATTRIBUTION_S = 10.0
SAMPLES = 20


@dataclass(frozen=True)
class Ack:
    conversation_id: int
    seq: int
    message_id: int
    client_msg_id: str
    sender: str  # who sent it (a device name, or "http:<user>")
    sender_user: int
    sender_device: str | None  # the device that sent it over its socket (None: over HTTP)
    sent_at: float  # first attempt
    acked_at: float


@dataclass(frozen=True)
class Arrival:
    """One message as a device's client yielded it (``next_message``), in yield order."""

    device: str
    conversation_id: int
    seq: int
    message_id: int
    client_msg_id: str | None
    at: float


@dataclass(frozen=True)
class Link:
    """A stretch of time a device was seen connected (and caught up) on one gateway."""

    start: float
    end: float
    gateway: str


@dataclass
class DeviceRecord:
    name: str
    user_id: int
    links: list[Link] = field(default_factory=list)


@dataclass(frozen=True)
class Fault:
    kind: str  # gateway_kill, platform_kill, worker_kill, gateway_stop, redis_restart
    target: str  # gw1, platform-1, worker-2, redis
    start: float
    end: float  # restarted and healthy again (gateway_stop: when it was continued)


@dataclass
class RunData:
    acks: list[Ack]
    arrivals: list[Arrival]
    devices: list[DeviceRecord]
    # conversation id -> member user id -> visible_from_seq
    members: dict[int, dict[int, int]]
    faults: list[Fault]
    late_after: float = LATE_AFTER_S


@dataclass
class Latency:
    count: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


@dataclass
class CheckResult:
    acked: int = 0
    expected_deliveries: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    late: int = 0
    mismatched: int = 0
    unexpected: int = 0
    seq_reused: int = 0
    ack_order: int = 0
    unacked_arrivals: int = 0  # yielded, but no ack of ours: system tips, abandoned sends
    late_checked: int = 0  # (message, device) pairs on a continuously connected device
    latency: Latency = field(default_factory=Latency)
    latency_all: Latency = field(default_factory=Latency)
    faults: dict[str, int] = field(default_factory=dict)
    lost_by_fault: dict[str, int] = field(default_factory=dict)
    late_by_fault: dict[str, int] = field(default_factory=dict)
    lost_by_device: dict[str, int] = field(default_factory=dict)
    lost_by_conversation: dict[int, int] = field(default_factory=dict)
    late_by_conversation: dict[int, int] = field(default_factory=dict)
    late_by_device: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    FAILURES = (
        "lost",
        "duplicated",
        "reordered",
        "late",
        "mismatched",
        "unexpected",
        "seq_reused",
        "ack_order",
    )

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.FAILURES)

    def failures(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.FAILURES if getattr(self, name)}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out

    def sample(self, kind: str, item: dict[str, Any]) -> None:
        bucket = self.samples.setdefault(kind, [])
        if len(bucket) < SAMPLES:
            bucket.append(item)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def deadline(faults: list[Fault], acked_at: float, window: float) -> float:
    """When a message acked at ``acked_at`` must have arrived on a connected device:
    ``window`` after the ack, or ``REDIS_BACK_S`` after Redis was back if Redis was down
    before that or still being rebuilt when it was acked."""
    due = acked_at + window
    for fault in faults:
        back = fault.end
        if fault.kind == "redis_restart" and fault.start <= due and acked_at <= back + REDIS_BACK_S:
            due = max(due, back + REDIS_BACK_S)
    return due


def latency_of(values_s: list[float]) -> Latency:
    values = sorted(max(0.0, v) * 1000 for v in values_s)
    if not values:
        return Latency()
    return Latency(
        count=len(values),
        p50_ms=round(percentile(values, 0.50), 1),
        p99_ms=round(percentile(values, 0.99), 1),
        max_ms=round(values[-1], 1),
    )


def due_devices(data: RunData) -> dict[int, list[tuple[str, int, int]]]:
    """Conversation -> [(device, user, visible_from_seq)] of every member's devices."""
    by_user: dict[int, list[str]] = defaultdict(list)
    for device in data.devices:
        by_user[device.user_id].append(device.name)
    out: dict[int, list[tuple[str, int, int]]] = {}
    for conversation, members in data.members.items():
        out[conversation] = [
            (name, user, visible) for user, visible in members.items() for name in by_user[user]
        ]
    return out


def expected_for(ack: Ack, due: dict[int, list[tuple[str, int, int]]]) -> list[str]:
    return [
        name
        for name, _user, visible in due.get(ack.conversation_id, [])
        if ack.seq > visible and name != ack.sender_device
    ]


def expected_count(data: RunData) -> int:
    due = due_devices(data)
    return sum(len(expected_for(ack, due)) for ack in data.acks)


def missing_count(data: RunData, arrived: set[tuple[str, int, int]]) -> int:
    """How many (ack, device) deliveries have not arrived yet (for ending the settle early)."""
    due = due_devices(data)
    return sum(
        1
        for ack in data.acks
        for name in expected_for(ack, due)
        if (name, ack.conversation_id, ack.seq) not in arrived
    )


class _Connectivity:
    """Answers: was this device connected throughout [t0, t1] on a gateway not stopped?"""

    def __init__(self, data: RunData) -> None:
        self.links = {d.name: sorted(d.links, key=lambda link: link.start) for d in data.devices}
        self.starts = {name: [link.start for link in links] for name, links in self.links.items()}
        self.pauses: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for fault in data.faults:
            if fault.kind == "gateway_stop":
                self.pauses[fault.target].append((fault.start, fault.end))

    def continuous(self, device: str, t0: float, t1: float) -> bool:
        links = self.links.get(device, [])
        i = bisect.bisect_right(self.starts.get(device, []), t0) - 1
        if i < 0:
            return False
        link = links[i]
        if link.end < t1:
            return False
        return not any(start <= t1 and end >= t0 for start, end in self.pauses[link.gateway])

    def gateway_at(self, device: str, t: float) -> str | None:
        links = self.links.get(device, [])
        i = bisect.bisect_right(self.starts.get(device, []), t) - 1
        if i >= 0 and links[i].end >= t:
            return links[i].gateway
        return None


def fault_near(faults: list[Fault], t0: float, t1: float) -> str:
    """The latest fault that began by ``t1`` and ended no more than ATTRIBUTION_S before t0."""
    label = "no fault nearby"
    for fault in sorted(faults, key=lambda f: f.start):
        if fault.start <= t1 and fault.end + ATTRIBUTION_S >= t0:
            label = fault.kind
    return label


def check(data: RunData) -> CheckResult:
    result = CheckResult(acked=len(data.acks))
    result.faults = dict(Counter(f.kind for f in data.faults))
    _check_acks(data, result)

    # What each device yielded: first arrival per (conversation, seq), duplicates, order.
    first: dict[tuple[str, int, int], Arrival] = {}
    highest: dict[tuple[str, int], int] = {}
    for arrival in data.arrivals:
        key = (arrival.device, arrival.conversation_id, arrival.seq)
        top = highest.get((arrival.device, arrival.conversation_id), 0)
        if key in first:
            result.duplicated += 1
            result.sample("duplicated", asdict(arrival))
            continue
        first[key] = arrival
        if arrival.seq < top:
            result.reordered += 1
            result.sample("reordered", {**asdict(arrival), "after_seq": top})
        highest[(arrival.device, arrival.conversation_id)] = max(top, arrival.seq)

    due = due_devices(data)
    links = _Connectivity(data)
    by_seq = {(a.conversation_id, a.seq): a for a in data.acks}
    window = data.late_after
    lost_by_fault: Counter[str] = Counter()
    late_by_fault: Counter[str] = Counter()
    lost_by_device: Counter[str] = Counter()
    late_by_device: Counter[str] = Counter()
    lost_by_conversation: Counter[int] = Counter()
    late_by_conversation: Counter[int] = Counter()
    checked: list[float] = []
    every: list[float] = []
    expected_keys: set[tuple[str, int, int]] = set()
    for ack in data.acks:
        for device in expected_for(ack, due):
            key = (device, ack.conversation_id, ack.seq)
            expected_keys.add(key)
            result.expected_deliveries += 1
            found = first.get(key)
            steady = links.continuous(device, ack.acked_at, ack.acked_at + window)
            if found is None:
                result.lost += 1
                lost_by_fault[fault_near(data.faults, ack.acked_at, ack.acked_at + window)] += 1
                lost_by_device[device] += 1
                lost_by_conversation[ack.conversation_id] += 1
                result.sample(
                    "lost",
                    {
                        "device": device,
                        **_ack_fields(ack),
                        "connected_throughout": steady,
                        "gateway_at_ack": links.gateway_at(device, ack.acked_at),
                    },
                )
                continue
            if found.client_msg_id != ack.client_msg_id or found.message_id != ack.message_id:
                result.mismatched += 1
                result.sample(
                    "mismatched", {"device": device, **_ack_fields(ack), "got": asdict(found)}
                )
                continue
            result.delivered += 1
            delay = found.at - ack.acked_at
            every.append(delay)
            if not steady:
                continue
            result.late_checked += 1
            checked.append(delay)
            if found.at > deadline(data.faults, ack.acked_at, window):
                result.late += 1
                late_by_fault[fault_near(data.faults, ack.acked_at, ack.acked_at + window)] += 1
                late_by_device[device] += 1
                late_by_conversation[ack.conversation_id] += 1
                result.sample(
                    "late",
                    {
                        "device": device,
                        **_ack_fields(ack),
                        "arrived_at": round(found.at, 3),
                        "delay_s": round(delay, 3),
                        "gateway": links.gateway_at(device, ack.acked_at),
                    },
                )

    for key, arrival in first.items():
        if key in expected_keys:
            continue
        if (arrival.conversation_id, arrival.seq) in by_seq:
            result.unexpected += 1
            result.sample("unexpected", asdict(arrival))
        else:
            result.unacked_arrivals += 1
    result.latency = latency_of(checked)
    result.latency_all = latency_of(every)
    result.lost_by_fault = dict(lost_by_fault)
    result.late_by_fault = dict(late_by_fault)
    result.lost_by_device = dict(lost_by_device.most_common(SAMPLES))
    result.late_by_device = dict(late_by_device.most_common(SAMPLES))
    result.lost_by_conversation = dict(lost_by_conversation)
    result.late_by_conversation = dict(late_by_conversation)
    return result


def _ack_fields(ack: Ack) -> dict[str, Any]:
    return {
        "conversation_id": ack.conversation_id,
        "seq": ack.seq,
        "client_msg_id": ack.client_msg_id,
        "sender": ack.sender,
        "acked_at": round(ack.acked_at, 3),
    }


def _check_acks(data: RunData, result: CheckResult) -> None:
    by_conversation: dict[int, list[Ack]] = defaultdict(list)
    for ack in data.acks:
        by_conversation[ack.conversation_id].append(ack)
    for conversation, acks in by_conversation.items():
        seen: dict[int, Ack] = {}
        for ack in acks:
            other = seen.get(ack.seq)
            if other is not None and other.client_msg_id != ack.client_msg_id:
                result.seq_reused += 1
                result.sample(
                    "seq_reused",
                    {
                        "conversation_id": conversation,
                        "seq": ack.seq,
                        "a": other.client_msg_id,
                        "b": ack.client_msg_id,
                    },
                )
            seen.setdefault(ack.seq, ack)
        # Walk from the highest seq down, keeping the earliest ack time among higher seqs:
        # an ack with a higher seq that came back before this send began is a violation.
        earliest: Ack | None = None
        for ack in sorted(acks, key=lambda a: a.seq, reverse=True):
            if earliest is not None and earliest.seq > ack.seq and earliest.acked_at < ack.sent_at:
                result.ack_order += 1
                result.sample(
                    "ack_order",
                    {
                        "conversation_id": conversation,
                        "seq": ack.seq,
                        "sent_at": round(ack.sent_at, 3),
                        "higher_seq": earliest.seq,
                        "higher_acked_at": round(earliest.acked_at, 3),
                    },
                )
            if earliest is None or ack.acked_at < earliest.acked_at:
                earliest = ack
