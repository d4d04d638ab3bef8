"""Forwarding: copies of messages one can see, sent by the forwarder to other conversations.

Each copy is an ordinary send (every rule of the target applies: membership, friendship,
blocks), carries where it was first sent (``forwarded_from``), and points at the same
upload as the original: attachments are not copied, and their facts are read again from
the upload record. Each copy's ``client_msg_id`` is derived from the request's, so a retry
of the whole request stores nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from pigeon.actions.changes import visible_message
from pigeon.actions.context import Context
from pigeon.actions.sending import Draft, send_message
from pigeon.common.errors import InvalidRequest, NotEditable, PigeonError
from pigeon.common.models import Ack, ForwardedFrom, Message
from pigeon.storage import messages as message_store

MAX_FORWARD_ID_CHARS = 24  # + "/<conversation>/<message>" stays within 64


@dataclass(frozen=True)
class Forwarded:
    """What became of the copies for one target: their acks, or why it refused them (the
    copies before the refusal are stored)."""

    conversation_id: int
    acks: list[Ack]
    error: PigeonError | None = None


async def forward_messages(
    ctx: Context,
    user_id: int,
    message_ids: list[int],
    conversation_ids: list[int],
    *,
    client_msg_id: str,
) -> list[Forwarded]:
    """Send copies of ``message_ids`` (in seq order) to each of ``conversation_ids``."""
    if not client_msg_id or len(client_msg_id) > MAX_FORWARD_ID_CHARS:
        raise InvalidRequest(f"client_msg_id must be 1-{MAX_FORWARD_ID_CHARS} characters")
    originals = await _forwardable(ctx, user_id, list(dict.fromkeys(message_ids)))
    results = []
    for target in dict.fromkeys(conversation_ids):
        acks: list[Ack] = []
        try:
            for original in originals:
                draft = Draft(
                    client_msg_id=f"{client_msg_id}/{target}/{original.id}",
                    kind=original.kind,
                    body=original.body,
                    conversation_id=target,
                    forwarded_from=original.forwarded_from
                    or ForwardedFrom(sender_id=original.sender_id, ts=original.ts),
                )
                acks.append(await send_message(ctx, user_id, draft))
        except PigeonError as exc:
            results.append(Forwarded(target, acks, exc))
            continue
        results.append(Forwarded(target, acks))
    return results


async def _forwardable(ctx: Context, user_id: int, message_ids: list[int]) -> list[Message]:
    """The originals, each one the forwarder may see and a client could have sent."""
    found = []
    async with ctx.db.read() as conn:
        for message_id in message_ids:
            row, _ = await visible_message(conn, user_id, message_id)
            if row["kind"] in ("system", "recall") or row["recalled_at"] is not None:
                raise NotEditable("tips and recalled messages cannot be forwarded")
            found.append(message_store.message_from_row(row))
    found.sort(key=lambda m: (m.conversation_id, m.seq))
    return found
