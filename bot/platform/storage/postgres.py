"""The PostgreSQL driver (several replicas): an asyncpg pool; a transaction holds one connection."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bot.platform.storage.base import Database, Row, StorageError

logger = logging.getLogger(__name__)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, server_settings: dict[str, str] | None = None
    ):
        self._url = url
        self._pool: asyncpg.Pool | None = None
        self._min = min_size
        self._max = max_size
        self._server_settings = server_settings or {}
        self._tx_conn: contextvars.ContextVar[Any] = contextvars.ContextVar(f"pg_tx_{id(self)}", default=None)

    async def connect(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self._url, min_size=self._min, max_size=self._max, server_settings=self._server_settings
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError(f"cannot reach PostgreSQL at {_where(self._url)}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageError("the PostgreSQL pool is not open")
        return self._pool

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        conn = self._tx_conn.get()
        if conn is not None:
            yield conn
            return
        async with self._p.acquire() as acquired:
            yield acquired

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._conn() as conn:
            status: str = await conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        async with self._conn() as conn:
            await conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._conn() as conn:
            rows = await conn.fetch(sql, *args)
        return [dict(r) for r in rows]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._conn() as conn:
            return await conn.fetchval(sql, *args)

    async def executescript(self, script: str) -> None:
        async with self._conn() as conn:
            await conn.execute(script)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        if self._tx_conn.get() is not None:
            yield self
            return
        async with self._p.acquire() as conn, conn.transaction():
            token = self._tx_conn.set(conn)
            try:
                yield self
            finally:
                self._tx_conn.reset(token)
