"""Correctness of one sender/receiver pair: every acked message exactly once, in seq order."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

FAILURE_FIELDS = ("lost", "duplicated", "reordered", "seq_mismatch", "unacked", "send_errors")


@dataclass
class PairCheck:
    """What one receiver got, compared with what its sender had acknowledged."""

    acked: int = 0
    received: int = 0
    lost: int = 0  # acked, never received
    duplicated: int = 0  # received more than once
    reordered: int = 0  # received with a seq not above the previous one
    seq_gaps: int = 0  # seq jumped by more than one (something stored was not pushed)
    seq_mismatch: int = 0  # ack said seq a, delivery said seq b
    unacked: int = 0  # sent, no ack and no error by the end of the drain
    delivered_unacked: int = 0  # received although its ack never came
    send_errors: int = 0  # sends answered by an error frame
    examples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(int(getattr(self, name)) for name in FAILURE_FIELDS)

    def add(self, other: PairCheck) -> None:
        for name in (*FAILURE_FIELDS, "acked", "received", "seq_gaps", "delivered_unacked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        room = 10 - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_pair(
    pair: int,
    acked: dict[int, int | None],
    received: list[tuple[int, int]],
    unacked: int,
    send_errors: int,
) -> PairCheck:
    """``acked``: message number -> seq from its ack; ``received``: (n, seq) in arrival order."""
    check = PairCheck(acked=len(acked), received=len(received), unacked=unacked)
    check.send_errors = send_errors
    counts = Counter(n for n, _ in received)
    check.duplicated = sum(c - 1 for c in counts.values() if c > 1)
    lost = [n for n in acked if n not in counts]
    check.lost = len(lost)
    if lost:
        check.examples.append(f"pair {pair}: lost acked messages n={sorted(lost)[:5]}")
    if check.duplicated:
        dups = sorted(n for n, c in counts.items() if c > 1)[:5]
        check.examples.append(f"pair {pair}: duplicated n={dups}")
    first_seq: dict[int, int] = {}
    previous = -1
    for index, (n, seq) in enumerate(received):
        first_seq.setdefault(n, seq)
        if index > 0:
            if seq <= previous:
                check.reordered += 1
                if check.reordered == 1:
                    check.examples.append(f"pair {pair}: seq {seq} arrived after seq {previous}")
            elif seq > previous + 1:
                check.seq_gaps += 1
        previous = max(previous, seq)
    for n, acked_seq in acked.items():
        got = first_seq.get(n)
        if acked_seq is not None and got is not None and got != acked_seq:
            check.seq_mismatch += 1
            if check.seq_mismatch == 1:
                check.examples.append(f"pair {pair}: n={n} acked as seq {acked_seq}, got {got}")
    check.delivered_unacked = sum(1 for n in counts if n not in acked)
    return check
