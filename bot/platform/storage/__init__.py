"""Courier's state: the Store interface and the SQLite / PostgreSQL implementations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.platform.storage.base import Database, StorageError, Store
from bot.platform.storage.models import ConversationKind, ConversationRecord, TenantRecord, TenantStatus
from bot.platform.storage.store import SqlStore

__all__ = [
    "ConversationKind",
    "ConversationRecord",
    "Database",
    "SqlStore",
    "StorageError",
    "Store",
    "TenantRecord",
    "TenantStatus",
    "open_store",
]


async def open_store(database_url: str, *, migrations: Sequence[Path] = (), **pool_options: object) -> SqlStore:
    """Connect to ``database_url`` (sqlite:/// or postgresql://), apply the platform's migrations and those of
    ``migrations`` (each feature's folder), return the store."""
    if database_url.startswith("sqlite:"):
        from bot.platform.storage.sqlite import SqliteDatabase, sqlite_path

        store = SqlStore(SqliteDatabase(sqlite_path(database_url)), migrations=migrations)
    elif database_url.startswith(("postgresql://", "postgres://")):
        from bot.platform.storage.postgres import PostgresDatabase

        store = SqlStore(PostgresDatabase(database_url, **pool_options), migrations=migrations)  # type: ignore[arg-type]
    else:
        raise StorageError(f"unsupported database URL scheme: {database_url.split(':', 1)[0]}")
    await store.open()
    return store
