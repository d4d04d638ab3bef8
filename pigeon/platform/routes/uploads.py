"""Uploads (images, files, voice clips) and serving them back."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import FileResponse

from pigeon.actions import uploads
from pigeon.common.errors import NotFound
from pigeon.common.media import AUDIO_MIMES, IMAGE_MIMES
from pigeon.common.models import Upload
from pigeon.platform.deps import Ctx, UserId

router = APIRouter(tags=["uploads"])
files_router = APIRouter(tags=["uploads"])
INLINE_MIMES = frozenset(IMAGE_MIMES.values()) | AUDIO_MIMES
IMMUTABLE = "private, max-age=31536000, immutable"


@router.post("/uploads", status_code=status.HTTP_201_CREATED)
async def upload(
    ctx: Ctx,
    user_id: UserId,
    file: Annotated[UploadFile, File(description="the file's bytes")],
    kind: Annotated[Literal["image", "file", "voice", "avatar"], Form()] = "file",
) -> Upload:
    """Store a file; send it by putting the returned ``url`` in an image/file/voice message.

    Images are decoded (PNG, JPEG, GIF, WebP) and get ``width``, ``height`` and a
    ``thumb_url``; anything that does not decode is refused with ``invalid_image``.
    An ``avatar`` is cut to a centred square, stored as WebP of at most 256 px (and a
    96 px ``thumb_url``) without metadata; point ``avatar_url`` of your profile or a
    group at its ``url``.
    """
    return await uploads.store_upload(
        ctx,
        user_id,
        kind,
        file.filename or "file",
        file.content_type or "application/octet-stream",
        file.file,
    )


@files_router.get("/files/{upload_id}", include_in_schema=False)
async def get_file(upload_id: str, ctx: Ctx) -> FileResponse:
    """Serve an upload. Only images and audio are shown inline; the rest downloads."""
    found, path, _thumbnail = await uploads.find_upload(ctx, upload_id)
    headers = {
        "Cache-Control": IMMUTABLE,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if found.mime in INLINE_MIMES:
        return FileResponse(path, media_type=found.mime, headers=headers)
    headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(found.name)}"
    return FileResponse(path, media_type="application/octet-stream", headers=headers)


@files_router.get("/files/{upload_id}/thumbnail", include_in_schema=False)
async def get_thumbnail(upload_id: str, ctx: Ctx) -> FileResponse:
    _found, _path, thumbnail = await uploads.find_upload(ctx, upload_id)
    if thumbnail is None:
        raise NotFound("this file has no thumbnail")
    headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
    return FileResponse(thumbnail, media_type="image/jpeg", headers=headers)
