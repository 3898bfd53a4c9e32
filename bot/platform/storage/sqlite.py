"""The SQLite driver (default, embedded): aiosqlite, WAL, one connection, serialized transactions."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.platform.storage.base import Database, Row, StorageError

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\$(\d+)")


def sqlite_path(url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite://:memory:``."""
    if url == "sqlite://:memory:":
        return ":memory:"
    if not url.startswith("sqlite:///"):
        raise StorageError(f"not a SQLite URL: {url!r}")
    return url.removeprefix("sqlite:///")


def translate(sql: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """``$n`` placeholders -> positional ``?`` with the arguments reordered (``$1`` may repeat)."""
    order = [int(n) for n in _PLACEHOLDER.findall(sql)]
    if order and max(order) != len(args):
        raise StorageError(f"statement uses {max(order)} parameters but {len(args)} were given")
    if not order and args:
        raise StorageError(f"statement uses no parameters but {len(args)} were given")
    return _PLACEHOLDER.sub("?", sql), tuple(args[n - 1] for n in order)


def split_script(script: str) -> list[str]:
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise StorageError(f"incomplete SQL statement in a migration: {buffer.strip()[:80]!r}")
    return statements


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # The transaction the current task is inside, so nested use joins it instead of deadlocking.
        self._in_tx: contextvars.ContextVar[bool] = contextvars.ContextVar(f"sqlite_tx_{id(self)}", default=False)

    async def connect(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = await aiosqlite.connect(self._path, isolation_level=None)
        except Exception as exc:
            raise StorageError(f"cannot open SQLite database {self._path!r}: {exc}") from exc
        self._conn.row_factory = aiosqlite.Row
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
            await self._conn.execute(f"PRAGMA {pragma}")

    async def close(self) -> None:
        if self._conn is not None:
            async with self._lock:
                await self._conn.close()
                self._conn = None

    @property
    def _c(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StorageError("the SQLite database is not open")
        return self._conn

    @asynccontextmanager
    async def _statement(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._in_tx.get():
            yield self._c
            return
        async with self._lock:
            yield self._c

    async def execute(self, sql: str, *args: Any) -> int:
        query, params = translate(sql, args)
        async with self._statement() as conn:
            cursor = await conn.execute(query, params)
            count = cursor.rowcount
            await cursor.close()
            return count

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        query = translate(sql, tuple(rows[0]))[0]
        params = [translate(sql, tuple(r))[1] for r in rows]
        async with self._statement() as conn:
            await conn.executemany(query, params)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        query, params = translate(sql, args)
        async with self._statement() as conn, conn.execute(query, params) as cursor:
            rows = await cursor.fetchall()
        return [dict(r) for r in rows]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return next(iter(row.values())) if row else None

    async def executescript(self, script: str) -> None:
        """Run statement by statement (sqlite3's executescript would commit the open transaction)."""
        for statement in split_script(script):
            await self.execute(statement)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        if self._in_tx.get():
            yield self
            return
        async with self._lock:
            token = self._in_tx.set(True)
            try:
                await self._c.execute("BEGIN IMMEDIATE")
                try:
                    yield self
                except BaseException:
                    await self._c.execute("ROLLBACK")
                    raise
                await self._c.execute("COMMIT")
            finally:
                self._in_tx.reset(token)
