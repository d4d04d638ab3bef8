"""The SDK's ordering buffer: exactly once, in order, gaps detected and filled."""

from __future__ import annotations

from typing import Any

from pigeon.client import OrderedInbox


def msg(seq: int, cid: int = 1) -> dict[str, Any]:
    return {"id": cid * 1000 + seq, "conversation_id": cid, "seq": seq}


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in messages]


def test_in_order_pushes_flow_through() -> None:
    inbox = OrderedInbox()
    assert inbox.push(msg(1)) == ([msg(1)], False)
    assert inbox.push(msg(2)) == ([msg(2)], False)
    assert inbox.last_seq == {1: 2}


def test_duplicates_are_dropped() -> None:
    inbox = OrderedInbox()
    inbox.push(msg(1))
    assert inbox.push(msg(1)) == ([], False)


def test_gap_holds_later_messages_until_filled() -> None:
    inbox = OrderedInbox()
    inbox.push(msg(1))
    assert inbox.push(msg(4)) == ([], True)
    assert inbox.push(msg(3)) == ([], True)
    delivered = inbox.fill(1, [msg(2), msg(3)])
    assert seqs(delivered) == [2, 3, 4]
    assert not inbox.has_gap(1)


def test_fill_is_authoritative_about_missing_seqs() -> None:
    inbox = OrderedInbox()
    inbox.push(msg(9))
    assert seqs(inbox.fill(1, [msg(7), msg(9)])) == [7, 9]
    assert inbox.last_seq[1] == 9


def test_skip_to_hides_history_before_joining() -> None:
    inbox = OrderedInbox()
    inbox.skip_to(1, 50)
    assert seqs(inbox.push(msg(51))[0]) == [51]
    assert inbox.push(msg(50)) == ([], False)


def test_conversations_are_independent() -> None:
    inbox = OrderedInbox()
    inbox.push(msg(2, cid=1))
    assert seqs(inbox.push(msg(1, cid=2))[0]) == [1]
    assert inbox.has_gap(1)
    assert not inbox.has_gap(2)
