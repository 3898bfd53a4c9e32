"""Courier's state: the Store interface and the SQLite / PostgreSQL implementations."""

from __future__ import annotations

from bot.storage.base import Database, StorageError, Store
from bot.storage.models import ConversationKind, ConversationRecord, TenantRecord, TenantStatus
from bot.storage.store import SqlStore

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


async def open_store(database_url: str, **pool_options: object) -> SqlStore:
    """Connect to ``database_url`` (sqlite:/// or postgresql://), apply migrations, return the store."""
    if database_url.startswith("sqlite:"):
        from bot.storage.sqlite import SqliteDatabase, sqlite_path

        store = SqlStore(SqliteDatabase(sqlite_path(database_url)))
    elif database_url.startswith(("postgresql://", "postgres://")):
        from bot.storage.postgres import PostgresDatabase

        store = SqlStore(PostgresDatabase(database_url, **pool_options))  # type: ignore[arg-type]
    else:
        raise StorageError(f"unsupported database URL scheme: {database_url.split(':', 1)[0]}")
    await store.open()
    return store
