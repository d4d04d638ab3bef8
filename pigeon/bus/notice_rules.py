"""Hot groups: when a device is owed a notice, decided from its read stub. No I/O.

Theory of operation. A hot group's members are not sent each message; an online device
that is behind gets one small ``notice`` and pulls. Per conversation, member and device
the notice book keeps a **stub**:

    read   the highest seq the device has pulled, fetched or read (-1: unknown, e.g.
           Redis lost it; it is seeded from the member's read marker in the database)
    owed   the seq of a notice sent to the device and not yet pulled after (0: none)

and per conversation ``latest``, the highest seq fanned out. Three events move a stub, each
applied atomically (one Lua script on Redis), so no interleaving loses a wake-up:

* a message at ``seq`` reaches an online device (:func:`after_message`): a notice is owed
  exactly when ``read < seq`` and none is outstanding. While one is, the device is going
  to pull anyway, so a busy group costs one notice per pull, not one per message. The
  decision is keyed by seq: the same message fanned out again (its first fan-out died
  between deciding and queueing the notice) sends the notice it owes again.
* the device sent the message itself (:func:`after_own_message`): it holds it (the ack).
  If it held everything before it, the stub moves on and nothing is sent; otherwise it is
  behind, and owed a notice like for any other message.
* the device pulled, fetched or read up to ``seq`` (:func:`after_catch_up`): the stub moves
  on and an outstanding notice at or below it is settled. If the group went past the stub
  meanwhile (a message fanned out while the pull was reading), a new notice is owed now.

Whichever of "message fanned out" and "pull recorded" comes second sees the other, which
is why no wake-up is lost: the fan-out sees the old stub and owes a notice, or the pull
sees the new ``latest`` and owes one itself. Stubs are per device, not per member: that
one device pulled says nothing of the member's others (a per-member stub loses their
wake-ups; tests/unit/test_notice_rules.py checks every interleaving of a model with two
devices, an own message and a read).
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN = -1


@dataclass(frozen=True)
class Stub:
    read: int = UNKNOWN
    owed: int = 0


def after_message(stub: Stub, seq: int) -> tuple[Stub, bool]:
    """A message at ``seq`` was fanned out to this online device; True: send a notice."""
    if stub.read >= seq or (stub.owed and stub.owed != seq):
        return stub, False
    return Stub(stub.read, seq), True


def after_own_message(stub: Stub, seq: int) -> tuple[Stub, bool]:
    """This device sent the message at ``seq`` (and has its ack)."""
    if stub.read != UNKNOWN and stub.read >= seq - 1:
        read = max(stub.read, seq)
        return Stub(read, stub.owed if stub.owed > read else 0), False
    return after_message(stub, seq)


def after_catch_up(stub: Stub, seq: int, latest: int) -> tuple[Stub, bool]:
    """The device pulled, fetched or read up to ``seq``; True if a notice is owed now."""
    read = max(stub.read, seq)
    owed = stub.owed if stub.owed > read else 0
    if not owed and latest > read:
        return Stub(read, latest), True
    return Stub(read, owed), False
