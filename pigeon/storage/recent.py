"""The newest messages of busy groups, as last read from the database, in this process.

In a hot group every online member pulls every message: a thousand members reading the
same rows and building the same models. The first pull past a message reads it; the
others take it from here. Each conversation keeps one run of consecutive seqs (a
conversation's seqs have no holes: each is taken by the transaction that stores its
message), so "everything after seq N" is a slice; the database is still asked for what
lies beyond the run on every pull, which is where new messages come from.

A recall is itself a later message: when the run takes it in, the original it names is
replaced by its recalled form, and so are the quotes of replies to it. Edits and
reactions are not messages: they move the conversation's ``last_change``, and a run read
under another ``last_change`` than the caller's is dropped (:meth:`RecentMessages.settle`)
and read again.
"""

from __future__ import annotations

from collections import OrderedDict

from pigeon.common.models import Message


class RecentMessages:
    """Runs of consecutive messages per conversation, least recently used evicted."""

    def __init__(self, *, per_conversation: int = 512, conversations: int = 32) -> None:
        self.per_conversation = per_conversation
        self.conversations = conversations
        self._runs: OrderedDict[int, list[Message]] = OrderedDict()
        self._changes: dict[int, int] = {}

    def settle(self, conversation_id: int, last_change: int) -> None:
        """Drop the run if the conversation's messages changed since it was read."""
        if self._changes.get(conversation_id, last_change) != last_change:
            self._runs.pop(conversation_id, None)
        self._changes[conversation_id] = last_change

    def after(self, conversation_id: int, after: int, limit: int) -> list[Message] | None:
        """Held messages with seq > ``after``, at most ``limit``; None if the run does not
        reach back to ``after + 1`` (or there is none): ask the database."""
        run = self._runs.get(conversation_id)
        if not run:
            return None
        start = after + 1 - run[0].seq
        if start < 0 or start > len(run):
            return None
        self._runs.move_to_end(conversation_id)
        return run[start : start + limit]

    def top(self, conversation_id: int) -> int | None:
        run = self._runs.get(conversation_id)
        return run[-1].seq if run else None

    def extend(self, conversation_id: int, fresh: list[Message]) -> None:
        """Take in consecutive messages just read from the database: the continuation of
        the run, or a newer run in its place (an older page leaves the run alone)."""
        if not fresh or not _consecutive(fresh):
            return
        run = self._runs.get(conversation_id)
        if run and fresh[0].seq == run[-1].seq + 1:
            run.extend(fresh)
        elif not run or fresh[0].seq > run[-1].seq:
            run = list(fresh)
            self._runs[conversation_id] = run
        else:
            return
        for message in fresh:
            if message.kind == "recall":
                _apply_recall(run, message)
        del run[: max(0, len(run) - self.per_conversation)]
        self._runs.move_to_end(conversation_id)
        while len(self._runs) > self.conversations:
            evicted, _ = self._runs.popitem(last=False)
            self._changes.pop(evicted, None)

    def forget(self, conversation_id: int) -> None:
        self._runs.pop(conversation_id, None)
        self._changes.pop(conversation_id, None)


def _consecutive(messages: list[Message]) -> bool:
    return messages[-1].seq - messages[0].seq == len(messages) - 1


def _apply_recall(run: list[Message], recall: Message) -> None:
    """The original shows as recalled, and so do the quotes of the replies to it."""
    seq, original = recall.body.get("seq"), recall.body.get("message_id")
    if not isinstance(seq, int):
        return
    index = seq - run[0].seq
    if 0 <= index < len(run) and run[index].id == original:
        run[index] = run[index].model_copy(update={"body": {}, "recalled": True})
    for i, message in enumerate(run):
        quote = message.reply_to
        if quote is not None and quote.message_id == original and not quote.recalled:
            gone = quote.model_copy(update={"snippet": "", "recalled": True})
            run[i] = message.model_copy(update={"reply_to": gone})
