"""Queries for upload records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from pigeon.storage.schema import uploads


async def insert_upload(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(uploads.insert().values(**values))


async def find_upload(conn: AsyncConnection, upload_id: str) -> RowMapping | None:
    result = await conn.execute(select(uploads).where(uploads.c.id == upload_id))
    return result.mappings().first()
