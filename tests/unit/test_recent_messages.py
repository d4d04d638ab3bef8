"""The run of a group's newest messages that pulls are served from."""

from __future__ import annotations

from pigeon.common.models import Message, Quote
from pigeon.storage.recent import RecentMessages


def message(seq: int, kind: str = "text", body: dict[str, object] | None = None) -> Message:
    return Message(
        id=1000 + seq,
        conversation_id=7,
        seq=seq,
        sender_id=1,
        client_msg_id=None,
        kind=kind,
        body=body or {"text": f"m{seq}"},
        ts=seq,
    )


def seqs(found: list[Message] | None) -> list[int] | None:
    return None if found is None else [m.seq for m in found]


def test_nothing_held_means_ask_the_database() -> None:
    recent = RecentMessages()
    assert recent.after(7, 0, 50) is None
    assert recent.top(7) is None


def test_a_run_answers_slices_after_any_seq_it_reaches_back_to() -> None:
    recent = RecentMessages()
    recent.extend(7, [message(s) for s in range(5, 11)])
    assert seqs(recent.after(7, 4, 50)) == [5, 6, 7, 8, 9, 10]
    assert seqs(recent.after(7, 7, 2)) == [8, 9]
    assert seqs(recent.after(7, 10, 50)) == []  # at the top: the database has the rest
    assert recent.after(7, 3, 50) is None  # seq 4 is not held
    assert recent.after(7, 11, 50) is None  # beyond the top: not known to be empty


def test_the_continuation_extends_a_newer_run_replaces_an_older_page_is_ignored() -> None:
    recent = RecentMessages()
    recent.extend(7, [message(s) for s in range(1, 4)])
    recent.extend(7, [message(4), message(5)])
    assert seqs(recent.after(7, 0, 50)) == [1, 2, 3, 4, 5]
    recent.extend(7, [message(1), message(2)])  # a lagging member's page
    assert recent.top(7) == 5
    recent.extend(7, [message(9), message(10)])  # after a gap: a newer run
    assert seqs(recent.after(7, 8, 50)) == [9, 10]
    assert recent.after(7, 4, 50) is None


def test_pages_with_holes_are_not_taken() -> None:
    recent = RecentMessages()
    recent.extend(7, [message(1), message(3)])
    assert recent.top(7) is None


def test_a_recall_replaces_the_original_it_names() -> None:
    recent = RecentMessages()
    recent.extend(7, [message(1), message(2)])
    recent.extend(7, [message(3, kind="recall", body={"message_id": 1001, "seq": 1, "by": 1})])
    held = recent.after(7, 0, 50)
    assert held is not None
    assert (held[0].recalled, held[0].body) == (True, {})
    assert (held[1].recalled, held[1].body) == (False, {"text": "m2"})


def test_runs_are_bounded_per_conversation_and_in_number() -> None:
    recent = RecentMessages(per_conversation=3, conversations=2)
    recent.extend(7, [message(s) for s in range(1, 6)])
    assert seqs(recent.after(7, 2, 50)) == [3, 4, 5]
    assert recent.after(7, 1, 50) is None
    recent.extend(8, [message(1)])
    recent.after(7, 4, 1)  # 7 used last: 8 is the least recently used
    recent.extend(9, [message(1)])
    assert recent.top(7) == 5
    assert recent.top(8) is None
    assert recent.top(9) == 1


def test_a_run_read_before_a_change_is_dropped() -> None:
    recent = RecentMessages()
    recent.settle(7, 0)
    recent.extend(7, [message(s) for s in range(1, 4)])
    recent.settle(7, 0)
    assert seqs(recent.after(7, 0, 50)) == [1, 2, 3]
    recent.settle(7, 1)  # a message was edited or reacted to
    assert recent.after(7, 0, 50) is None
    recent.extend(7, [message(s) for s in range(1, 4)])
    recent.settle(7, 1)
    assert seqs(recent.after(7, 0, 50)) == [1, 2, 3]


def test_a_recall_blanks_the_quotes_of_replies_in_the_run() -> None:
    recent = RecentMessages()
    original = message(1)
    quote = Quote(message_id=original.id, seq=1, sender_id=1, kind="text", snippet="m1")
    reply = message(2).model_copy(update={"reply_to": quote})
    recall = message(3, "recall", {"message_id": original.id, "seq": 1, "by": 1})
    recent.extend(7, [original, reply, recall])
    held = recent.after(7, 0, 50)
    assert held is not None
    assert held[0].recalled
    assert held[1].reply_to is not None
    assert held[1].reply_to.recalled
    assert held[1].reply_to.snippet == ""
