"""Database engines and transactions.

PostgreSQL uses one pooled engine (reads in autocommit). SQLite allows one writer at a
time, so it gets a writer engine with a single connection (writes queue in the application
instead of failing with "database is locked") and a small pool of readers that WAL lets run
beside it.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


class Database:
    """The engines for one database URL."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            sync = "NORMAL" if sqlite_synchronous.upper() == "NORMAL" else "FULL"
            self.writer = _sqlite_engine(url, pool_size=1, echo=echo, inline=True, sync=sync)
            self.reader = _sqlite_engine(url, pool_size=4, echo=echo, inline=False, sync=sync)
        else:
            self.writer = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                echo=echo,
                # No ping before every checkout (a round trip per request); a connection the
                # server dropped fails one request, is discarded, and the client retries.
                pool_recycle=1800,
            )
            # Reads run in autocommit: no BEGIN and no ROLLBACK round trips around them.
            self.reader = self.writer.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction, committed when the block exits without error."""
        async with self.writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[AsyncConnection]:
        """PostgreSQL: a connection in autocommit, for a write that is one atomic statement
        (no BEGIN and COMMIT round trips around it)."""
        assert not self.is_sqlite, "SQLite writes go through transaction()"
        async with self.reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries that change nothing."""
        async with self.reader.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.is_sqlite:
            await self.reader.dispose()


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite's interface, with every call run at once on the event loop's thread.

    For the single writer connection: a write statement takes microseconds, while handing
    each one to a thread and back costs more than the statement and, worse, stretches the
    time the one writer is held. The commit is the exception: it waits for the disk
    (fsync), so it runs on aiosqlite's thread while the loop serves everyone else. Reads
    keep aiosqlite's threads (a history page may be large).
    """

    sync_commits = True

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The ``sqlite3`` connection itself, for statements run straight on it."""
        assert self._connection is not None, "connection closed"
        return self._connection

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if fn == self._connection.commit and self.sync_commits:
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        return fn(*args, **kwargs)


def _sqlite_engine(url: str, *, pool_size: int, echo: bool, inline: bool, sync: str) -> AsyncEngine:
    options: dict[str, Any] = {}
    if inline:
        path = make_url(url).database or ""

        async def connect_inline() -> aiosqlite.Connection:
            connector = functools.partial(
                sqlite3.connect, path, timeout=30, check_same_thread=False
            )
            connection = _InlineConnection(connector, 64)
            connection.sync_commits = sync == "FULL"  # without fsync a commit is quick
            return await connection

        options["async_creator"] = connect_inline
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        echo=echo,
        connect_args={"timeout": 30},
        **options,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL (default): a message acknowledged to its sender survives power loss, not only
        # a crash; NORMAL (database.sqlite_synchronous) trades that for speed.
        cursor.execute(f"PRAGMA synchronous={sync}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine
