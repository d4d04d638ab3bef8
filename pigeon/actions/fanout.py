"""Fan-out: what a worker does with a publication addressed to a whole group.

The processes that accept sends never page a group's members: they publish the committed
message (:mod:`pigeon.actions.publisher`) and a fan-out worker takes it from the queue.
The worker pages through the members by user id (``PAGE`` at a time, memory bounded
whatever the group's size), locates the online ones and queues one delivery per gateway.

Normal groups get the message itself. Hot groups (flagged by an owner or admin, or at
least ``messaging.hot_group_threshold`` members) get push + pull: an online member who is
behind gets a small ``notice`` on each device that is behind, decided from the device's
read stub by the rules in :mod:`pigeon.bus.notice_rules`; offline members cost nothing
but the page read. Devices without a stub (new, or Redis lost them) get one from their
member's read marker in the database.

When every page was queued the message's hand-off is finished; a failure before that
raises, the queue hands the batch out again, and clients drop what they already hold.

The push-group messages of one batch taken off the queue are routed together: one lookup
of where their members are connected and one enqueue (``Router.push_many``), so a worker
that fell behind catches up with one registry lookup per member per batch rather than
per message. That loses no push: every message of a batch was committed before the batch
was taken, so before the lookup, and a socket registered after it syncs after its
``hello``, which reads them. Membership is still read for every message.
"""

from __future__ import annotations

import structlog

from pigeon.actions.context import Context
from pigeon.bus.notices import DeviceKey
from pigeon.bus.publication import MessageStored, Publication, ToGroup, to_devices
from pigeon.bus.router import Push
from pigeon.common.protocol.codec import encode_server_frame
from pigeon.common.protocol.frames import NoticeFrame
from pigeon.storage import groups as store

log = structlog.get_logger(__name__)

PAGE = 1000


def is_hot(ctx: Context, member_count: int, flagged: bool) -> bool:
    return flagged or member_count >= ctx.settings.messaging.hot_group_threshold


async def fan_out(ctx: Context, batch: list[Publication]) -> None:
    """Deliver a batch from the fan-out queue, in order; raises if the bus is down."""
    finished: list[int] = []
    pushes: list[Push] = []  # push groups' messages, routed together (in order)
    for publication in batch:
        if isinstance(publication, MessageStored) and publication.recipients is None:
            pushes += await _fan_out_message(ctx, publication)
            finished.append(publication.message_id)
            continue
        if pushes:  # whatever follows in the batch goes after them
            await ctx.router.push_many(pushes)
            pushes = []
        if isinstance(publication, ToGroup):
            await _push_to_members(ctx, publication)
        else:
            await ctx.publisher.route(publication)
    if pushes:
        await ctx.router.push_many(pushes)
    ctx.handoffs.finish(finished)


async def _member_pages(ctx: Context, conversation_id: int, skip: set[int]) -> list[list[int]]:
    pages: list[list[int]] = []
    after = 0
    while True:
        async with ctx.db.read() as conn:
            page = await store.member_id_page(conn, conversation_id, after, PAGE)
        pages.append([uid for uid in page if uid not in skip])
        if len(page) < PAGE:
            return pages
        after = page[-1]


async def _push_to_members(ctx: Context, publication: ToGroup) -> None:
    skip = set(publication.skip_user_ids)
    for page in await _member_pages(ctx, publication.conversation_id, skip):
        if page:
            await ctx.router.push(
                publication.frame, page, exclude_connection=publication.exclude_connection
            )


async def _fan_out_message(ctx: Context, message: MessageStored) -> list[Push]:
    """Hot groups are notified here; a push group's pages are returned, to be routed
    with the batch's other push-group messages."""
    async with ctx.db.read() as conn:
        group = await store.find_group(conn, message.conversation_id)
    if group is None:  # not a group after all: a private message republished
        members = await _all_members(ctx, message.conversation_id)
        await ctx.publisher.route(to_users_message(message, members))
        return []
    pages = [p for p in await _member_pages(ctx, message.conversation_id, set()) if p]
    if not is_hot(ctx, group["member_count"], bool(group["hot"])):
        return [Push(message.frame, page, message.exclude_connection) for page in pages]
    for page in pages:
        await _notify_behind(ctx, message, await ctx.router.locate_devices(page))
    return []


async def _notify_behind(
    ctx: Context, message: MessageStored, by_gateway: dict[str, list[DeviceKey]]
) -> None:
    """Hot group: a notice to the online devices their read stubs say are owed one."""
    online = [device for devices in by_gateway.values() for device in devices]
    if not online:
        return
    cid, seq = message.conversation_id, message.seq
    sender = (
        (message.sender_id, message.sender_device)
        if message.sender_id is not None and message.sender_device
        else None
    )
    wakes = await ctx.notices.on_message(cid, seq, sender, online)
    notify = set(wakes.notify)
    if wakes.unknown:
        async with ctx.db.read() as conn:
            reads = await store.read_seqs(conn, cid, sorted({uid for uid, _ in wakes.unknown}))
        # The read marker is the member's, not this device's: never seed a device as
        # holding this message, or it would not hear of it.
        await ctx.notices.seed(cid, {d: min(reads.get(d[0], 0), seq - 1) for d in wakes.unknown})
        notify.update((await ctx.notices.on_message(cid, seq, sender, wakes.unknown)).notify)
    notice = encode_server_frame(NoticeFrame(conversation_id=cid, last_seq=seq))
    if notify:
        await ctx.router.push_to_devices(
            notice,
            {
                gateway: [device for device in devices if device in notify]
                for gateway, devices in by_gateway.items()
            },
        )
    if sender is not None and sender not in notify:
        # The sending socket holds the message (its ack), and so does its device's stub;
        # the device's other sockets (tabs of the same browser) do not: tell them.
        await ctx.router.push_to_devices(
            notice,
            {gateway: [sender] for gateway, devices in by_gateway.items() if sender in devices},
            exclude_connection=message.exclude_connection,
        )


async def _all_members(ctx: Context, conversation_id: int) -> list[int]:
    return [uid for page in await _member_pages(ctx, conversation_id, set()) for uid in page]


def to_users_message(message: MessageStored, recipients: list[int]) -> MessageStored:
    """The same stored message, with its recipients named (routed without a worker)."""
    return MessageStored(
        message_id=message.message_id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        frame=message.frame,
        recipients=recipients,
        exclude_connection=message.exclude_connection,
        sender_device=message.sender_device,
    )


async def note_caught_up(
    ctx: Context,
    conversation_id: int,
    user_id: int,
    device: str | None,
    seq: int,
    *,
    wake: bool = True,
) -> bool:
    """The device pulled, fetched or read up to ``seq``: settle its hot-group notice. True
    if the group went past it meanwhile, so a notice is owed now: sent here if ``wake``,
    else the caller tells the device in its answer (a pull answers ``has_more``). Never
    fails the caller's read. ``device`` None (a backend, no device): nothing to settle."""
    if device is None:
        return False
    try:
        owed = await ctx.notices.on_catch_up(conversation_id, (user_id, device), seq)
    except Exception as exc:
        ctx.notice_outage.failed(exc, conversation=conversation_id)
        return False
    ctx.notice_outage.succeeded()
    if owed is not None and wake:
        frame = NoticeFrame(conversation_id=conversation_id, last_seq=owed)
        await ctx.publisher.publish([to_devices(frame, [(user_id, device)])])
    return owed is not None
