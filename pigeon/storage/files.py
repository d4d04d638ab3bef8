"""Blobs of uploads on disk, named by their random id (a capability: unguessable)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO


class FileStore:
    """Originals at ``<root>/<id[:2]>/<id>``, thumbnails beside them as ``<id>.thumb``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, upload_id: str, *, thumbnail: bool = False) -> Path:
        name = f"{upload_id}.thumb" if thumbnail else upload_id
        return self.root / upload_id[:2] / name

    def save(self, upload_id: str, source: BinaryIO, *, thumbnail: bool = False) -> Path:
        """Write atomically: a reader never sees half a file."""
        target = self.path(upload_id, thumbnail=thumbnail)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        with partial.open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
        return target

    def save_bytes(self, upload_id: str, data: bytes, *, thumbnail: bool = False) -> Path:
        target = self.path(upload_id, thumbnail=thumbnail)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(target)
        return target

    def remove(self, upload_id: str) -> None:
        for thumbnail in (False, True):
            self.path(upload_id, thumbnail=thumbnail).unlink(missing_ok=True)
