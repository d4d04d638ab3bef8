"""Correctness and latency of a group run: every member, every ack, the stored history.

A run passes when every send was acked, the acks' seqs follow the group's last seq
without a gap or a repeat, the history holds exactly one message per send (its seq the
ack's, its ``client_msg_id`` once), and every online member held every acked seq once,
in order, from the seq it started at. Pushes that came twice or late are what the
client algorithm is for (docs/protocol.md: pushes are at-least-once); they are counted
and printed, not failures.
"""

from __future__ import annotations

import array
import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.members import MemberRecord, SentRecord

FAILURES = (
    "unacked",
    "send_errors",
    "ack_seq_problems",
    "history_problems",
    "lost",
    "duplicated",
    "reordered",
    "unexpected",
    "bad_pages",
    "start_mismatch",
)


@dataclass
class GroupCheck:
    sent: int = 0
    acked: int = 0
    members: int = 0
    deliveries: int = 0  # (member, message) pairs held
    unacked: int = 0
    send_errors: int = 0
    ack_seq_problems: int = 0  # a repeated seq, or a gap among the acks' seqs
    history_problems: int = 0  # history disagrees with the acks (one stored row per send)
    lost: int = 0  # (member, acked message) never held
    duplicated: int = 0  # a member held a seq twice
    reordered: int = 0  # a member held a seq after a higher one
    unexpected: int = 0  # a member held a seq no sender had acked
    bad_pages: int = 0  # a pulled page that did not continue from the seq asked after
    start_mismatch: int = 0  # a member listed the group at another seq than the owner
    # What the client algorithm absorbed (pushes are at-least-once): not failures.
    duplicate_pushes: int = 0
    late_pushes: int = 0  # a push below one that had arrived before it
    push_gaps: int = 0  # pushes that skipped seqs (filled by pulls)
    pull_overlap: int = 0  # pulled messages the member already held from pushes
    examples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(int(getattr(self, name)) for name in FAILURES)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failures": self.failures}


def check_acks(check: GroupCheck, sent: list[SentRecord], start_seq: int) -> list[int]:
    """The acked seqs, sorted; counts unacked and failed sends and seq problems."""
    check.sent = len(sent)
    seqs = []
    for record in sent:
        if record.error:
            check.send_errors += 1
            check.note(f"sender {record.sender} n={record.n}: error {record.error}")
        elif not record.seq:
            check.unacked += 1
        else:
            seqs.append(record.seq)
    seqs.sort()
    check.acked = len(seqs)
    expected = list(range(start_seq + 1, start_seq + 1 + len(seqs)))
    if seqs != expected:
        check.ack_seq_problems = sum(1 for a, b in zip(seqs, expected, strict=True) if a != b) or 1
        check.note(f"acked seqs are not {start_seq + 1}..{start_seq + len(seqs)}: {seqs[:8]}...")
    return seqs


def check_history(
    check: GroupCheck, history: list[dict[str, Any]], sent: list[SentRecord], start_seq: int
) -> None:
    """One stored message per send: the history after the run's start seq is the acks."""
    acked = {r.seq: r for r in sent if r.seq}
    by_cmid: dict[str, int] = {}
    ids: set[int] = set()
    previous = start_seq
    problems: list[str] = []
    for message in history:
        seq, cmid = int(message["seq"]), str(message.get("client_msg_id"))
        if seq != previous + 1:
            problems.append(f"history seq {seq} after {previous}")
        previous = seq
        if cmid in by_cmid:
            problems.append(f"client_msg_id {cmid} stored at seq {by_cmid[cmid]} and {seq}")
        by_cmid[cmid] = seq
        if int(message["id"]) in ids:
            problems.append(f"message id {message['id']} twice")
        ids.add(int(message["id"]))
        record = acked.get(seq)
        if record is None or record.client_msg_id != cmid:
            problems.append(f"seq {seq} holds {cmid}, not the acked message")
    if len(history) != len(acked):
        problems.append(f"{len(history)} messages stored for {len(acked)} acked sends")
    check.history_problems = len(problems)
    for text in problems[:3]:
        check.note(text)


def check_members(
    check: GroupCheck, members: list[MemberRecord], acked_seqs: list[int], start_seq: int
) -> None:
    wanted = set(acked_seqs)
    check.members = len(members)
    for m in members:
        got = list(m.seqs)
        check.deliveries += len(got)
        held = set(got)
        lost = len(wanted - held)
        unexpected = len(held - wanted)
        check.lost += lost
        check.unexpected += unexpected
        duplicated = len(got) - len(held)
        reordered = sum(1 for a, b in itertools.pairwise(got) if b <= a)
        check.duplicated += duplicated
        check.reordered += reordered
        check.bad_pages += m.bad_pages
        check.duplicate_pushes += m.duplicate_pushes
        check.late_pushes += m.late_pushes
        check.push_gaps += m.gaps
        check.pull_overlap += m.overlap
        if m.start_seq != start_seq:
            check.start_mismatch += 1
        if lost or unexpected or duplicated or reordered or m.bad_pages:
            check.note(
                f"member {m.user_id}: lost {lost}, unexpected {unexpected}, duplicated "
                f"{duplicated}, reordered {reordered}, bad pages {m.bad_pages}"
            )


def arrival_latencies_ms(
    members: list[MemberRecord], sent: list[SentRecord], window_start_ns: int
) -> tuple[list[float], int]:
    """Per (message sent after the warm-up, member holding it): ms from the sender's ack to
    the member holding it; and how many arrived before their ack (counted as 0)."""
    ack_ns = {r.seq: r.ack_ns for r in sent if r.seq and r.sent_ns >= window_start_ns}
    out = array.array("d")
    early = 0
    for m in members:
        for seq, arrived in zip(m.seqs, m.arrival_ns, strict=True):
            acked = ack_ns.get(seq)
            if acked is None:
                continue
            delta = (arrived - acked) / 1e6
            if delta < 0:
                early += 1
                delta = 0.0
            out.append(delta)
    return sorted(out), early
