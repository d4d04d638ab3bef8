"""Per-conversation ordering without I/O: exactly once, in seq order, gaps reported.

Pushed messages may arrive twice (at-least-once queues) or early (a gap while an earlier
push is in flight or was lost). The inbox delivers each seq once, in order, holds back what
comes after a gap, and tells the caller which conversations need a pull to fill one.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]


class OrderedInbox:
    def __init__(self) -> None:
        self.last_seq: dict[int, int] = {}
        self._held: dict[int, dict[int, Message]] = {}

    def skip_to(self, conversation_id: int, seq: int) -> None:
        """Nothing at or below ``seq`` will come (history not visible, or already known)."""
        if seq > self.last_seq.get(conversation_id, 0):
            self.last_seq[conversation_id] = seq

    def push(self, message: Message) -> tuple[list[Message], bool]:
        """Offer a pushed message; return what is now deliverable and whether a gap is open."""
        cid, seq = message["conversation_id"], message["seq"]
        last = self.last_seq.get(cid, 0)
        if seq <= last:
            return [], self.has_gap(cid)
        self._held.setdefault(cid, {})[seq] = message
        return self._drain(cid), self.has_gap(cid)

    def fill(self, conversation_id: int, page: list[Message]) -> list[Message]:
        """Apply a pulled page (ascending, authoritative: no seq between them is missing)."""
        out: list[Message] = []
        for message in sorted(page, key=lambda m: int(m["seq"])):
            if message["seq"] > self.last_seq.get(conversation_id, 0):
                self.last_seq[conversation_id] = message["seq"]
                self._held.get(conversation_id, {}).pop(message["seq"], None)
                out.append(message)
        return out + self._drain(conversation_id)

    def has_gap(self, conversation_id: int) -> bool:
        return bool(self._held.get(conversation_id))

    def _drain(self, cid: int) -> list[Message]:
        held = self._held.get(cid, {})
        last = self.last_seq.get(cid, 0)
        out: list[Message] = []
        for seq in [s for s in held if s <= last]:
            del held[seq]
        while last + 1 in held:
            last += 1
            out.append(held.pop(last))
        self.last_seq[cid] = last
        if not held:
            self._held.pop(cid, None)
        return out
