"""Uploads: store an image (with its size and a thumbnail), a file, a voice clip or an
avatar (cut square and resized: :func:`pigeon.common.media.make_avatar`)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

from pigeon.actions.context import Context
from pigeon.actions.throttle import take
from pigeon.common.clock import now_ms
from pigeon.common.errors import InvalidRequest, NotFound, PayloadTooLarge, Unavailable
from pigeon.common.media import (
    AUDIO_MIMES,
    AVATAR_MIME,
    inspect_image,
    make_avatar,
)
from pigeon.common.models import Upload
from pigeon.storage import uploads as store
from pigeon.storage.files import FileStore

UploadKind = Literal["image", "file", "voice", "avatar"]
T = TypeVar("T")
# Kinds that are decoded as pictures and get a thumbnail.
_PICTURES = ("image", "avatar")


def file_store(ctx: Context) -> FileStore:
    return FileStore(ctx.settings.upload_dir)


async def store_upload(
    ctx: Context,
    owner_id: int,
    kind: UploadKind,
    name: str,
    content_type: str,
    source: BinaryIO,
) -> Upload:
    """Keep an uploaded file; images are decoded and thumbnailed, avatars made square and
    small, or refused."""
    limits = ctx.settings.uploads
    await take(
        ctx.limiter, f"upload:{owner_id}", limits.rate_per_user, limits.rate_window_s, "uploads"
    )
    name = (Path(name).name or "file")[:255]
    upload_id = secrets.token_hex(16)
    files = file_store(ctx)
    path = await asyncio.to_thread(files.save, upload_id, source)
    try:
        size = path.stat().st_size
        if size == 0:
            raise InvalidRequest("the file is empty")
        max_bytes = limits.avatar_max_bytes if kind == "avatar" else limits.max_bytes
        if size > max_bytes:
            what = "avatars" if kind == "avatar" else "uploads"
            raise PayloadTooLarge(f"{what} are limited to {max_bytes} bytes")
        width = height = None
        mime = content_type.split(";")[0].strip().lower() or "application/octet-stream"
        if kind == "avatar":
            avatar = await _decode(
                ctx,
                make_avatar,
                path,
                limits.avatar_px,
                limits.avatar_thumbnail_px,
                limits.max_decode_bytes,
            )
            await asyncio.to_thread(files.save_bytes, upload_id, avatar.thumbnail, thumbnail=True)
            await asyncio.to_thread(files.save_bytes, upload_id, avatar.image)
            mime, size, width, height = AVATAR_MIME, len(avatar.image), avatar.size, avatar.size
            name = f"{Path(name).stem[:200] or 'avatar'}.webp"
        elif kind == "image":
            info = await _decode(
                ctx,
                inspect_image,
                path,
                limits.thumbnail_px,
                limits.max_decode_bytes,
                limits.strip_metadata,
            )
            await asyncio.to_thread(files.save_bytes, upload_id, info.thumbnail, thumbnail=True)
            if info.cleaned is not None:
                await asyncio.to_thread(files.save_bytes, upload_id, info.cleaned)
                size = len(info.cleaned)
            mime, width, height = info.mime, info.width, info.height
        elif kind == "voice" and mime not in AUDIO_MIMES:
            raise InvalidRequest(f"voice clips must be one of {', '.join(sorted(AUDIO_MIMES))}")
        digest = await asyncio.to_thread(_sha256, path)
        async with ctx.transaction() as (conn, _):
            await store.insert_upload(
                conn,
                id=upload_id,
                owner_id=owner_id,
                kind=kind,
                name=name,
                mime=mime[:127],
                size=size,
                sha256=digest,
                width=width,
                height=height,
                has_thumbnail=kind in _PICTURES,
                created_at=now_ms(),
            )
    except BaseException:
        files.remove(upload_id)
        raise
    return _describe(upload_id, kind, name, mime, size, width, height)


async def _decode(ctx: Context, decode: Callable[..., T], path: Path, *args: object) -> T:
    """Decode in a thread, at most ``max_concurrent_decodes`` at once in this process: each
    decode may take ``max_decode_bytes``, so together they stay within a known bound."""
    limits = ctx.settings.uploads
    if ctx.decode_slots is None:
        ctx.decode_slots = asyncio.Semaphore(limits.max_concurrent_decodes)
    slots = ctx.decode_slots
    try:
        await asyncio.wait_for(slots.acquire(), limits.decode_wait_s)
    except TimeoutError:
        raise Unavailable("the server is busy decoding other images; try again") from None
    try:
        return await asyncio.to_thread(decode, path, limits.max_image_pixels, *args)
    finally:
        slots.release()


async def find_upload(ctx: Context, upload_id: str) -> tuple[Upload, Path, Path | None]:
    """The record and paths of an upload, for serving it."""
    if len(upload_id) != 32 or not all(c in "0123456789abcdef" for c in upload_id):
        raise NotFound("no such file")
    async with ctx.db.read() as conn:
        row = await store.find_upload(conn, upload_id)
    if row is None:
        raise NotFound("no such file")
    files = file_store(ctx)
    upload = _describe(
        row["id"], row["kind"], row["name"], row["mime"], row["size"], row["width"], row["height"]
    )
    thumbnail = files.path(upload_id, thumbnail=True) if row["has_thumbnail"] else None
    return upload, files.path(upload_id), thumbnail


async def attachment_body(ctx: Context, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body of an image/file/voice message, with the facts taken from the upload.

    The ``url`` must name an upload of the same kind (any user's: forwarding is allowed to
    whoever holds the capability URL); size, type, name and dimensions come from the
    server's record, not from what the sender claims.
    """
    match = _FILE_URL.fullmatch(str(body.get("url", "")))
    if match is None:
        raise InvalidRequest(f"{kind} messages must point at an upload: /files/<id>")
    async with ctx.db.read() as conn:
        row = await store.find_upload(conn, match.group(1))
    if row is None:
        raise InvalidRequest("no such upload")
    if row["kind"] != kind and not (kind == "file" and row["kind"] in ("image", "voice")):
        raise InvalidRequest(f"that upload is a {row['kind']}, not a {kind}")
    upload = _describe(
        row["id"], row["kind"], row["name"], row["mime"], row["size"], row["width"], row["height"]
    )
    facts: dict[str, Any] = {"url": upload.url, "size": upload.size}
    if kind == "image":
        facts |= {"thumb_url": upload.thumb_url, "width": upload.width, "height": upload.height}
    elif kind == "file":
        facts |= {"name": body.get("name") or upload.name, "mime": upload.mime}
    return {**body, **facts}


async def check_avatar_url(ctx: Context, url: str) -> None:
    """An avatar that points into ``/files/`` must name an avatar upload (square, small,
    without metadata); other URLs (an ``https:`` picture elsewhere) are the client's choice."""
    if not url.startswith("/files/"):
        return
    match = _FILE_URL.fullmatch(url)
    if match is None:
        raise InvalidRequest("avatar URLs into /files/ must be /files/<id> of an avatar upload")
    async with ctx.db.read() as conn:
        row = await store.find_upload(conn, match.group(1))
    if row is None:
        raise InvalidRequest("no such upload")
    if row["kind"] != "avatar":
        raise InvalidRequest(f"that upload is a {row['kind']}: upload avatars with kind=avatar")


_FILE_URL = re.compile(r"/files/([0-9a-f]{32})")


def _describe(
    upload_id: str,
    kind: str,
    name: str,
    mime: str,
    size: int,
    width: int | None,
    height: int | None,
) -> Upload:
    return Upload(
        id=upload_id,
        kind=kind,
        name=name,
        mime=mime,
        size=size,
        url=f"/files/{upload_id}",
        thumb_url=f"/files/{upload_id}/thumbnail" if kind in _PICTURES else None,
        width=width,
        height=height,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
