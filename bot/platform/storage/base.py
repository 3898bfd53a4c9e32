"""The storage interface every Courier feature uses. SQL lives only in ``bot/platform/storage``.

Two implementations share one code path: :class:`bot.platform.storage.store.SqlStore` over a small
:class:`Database` driver for SQLite (``aiosqlite``, WAL) or PostgreSQL (``asyncpg``). Migrations are numbered
SQL files collected from the platform's and each feature's ``migrations`` folder, applied at :meth:`Store.open`.

All times are timezone-aware UTC ``datetime`` values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.platform.storage.models import ConversationKind, ConversationRecord, TenantRecord, TenantStatus

if TYPE_CHECKING:
    from bot.platform.storage.people import PeopleStore

Row = dict[str, Any]


class StorageError(RuntimeError):
    """Storage could not do what was asked (unreachable, corrupt, constraint broken)."""


def storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the database failing or unreachable rather than a bug: a
    :class:`StorageError`, a driver's error (sqlite3, asyncpg) or a dropped or refused connection."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain is short (and could loop)
        if seen is None:
            return False
        if isinstance(seen, StorageError | sqlite3.Error | ConnectionError | TimeoutError):
            return True
        if type(seen).__module__.split(".")[0] == "asyncpg":  # not imported here: only PostgreSQL needs it
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Database(Protocol):
    """The thin driver seam. SQL uses ``$1, $2`` placeholders; the SQLite driver rewrites them to ``?``.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"`` for the rare statement that differs.
    """

    dialect: str

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row of arguments, in one round trip where the driver can."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Database]:
        """A unit of work: every call on the yielded Database commits together or not at all."""
        ...


class Store(Protocol):
    """Courier's state. Each method is atomic; :meth:`transaction` groups several.

    Features and the outbox keep their own tables in their own stores, built over :attr:`db` (a feature's
    ``store.py``); the platform's ``Store`` knows none of them.
    """

    @property
    def db(self) -> Database:
        """The driver, for the stores of the outbox and the features (their own SQL over it)."""
        ...

    @property
    def people(self) -> PeopleStore: ...

    async def open(self) -> None:
        """Connect and apply pending migrations. Idempotent."""
        ...

    async def close(self) -> None:
        """Wait for in-flight calls and close connections."""
        ...

    async def ping(self) -> bool:
        """True when storage answers a trivial query (for ``/healthz``)."""
        ...

    async def schema_version(self) -> int: ...

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """A Store whose calls commit together. Nested use joins the outer transaction."""
        ...

    # -- inbound de-duplication ------------------------------------------------------------------------
    async def remember_activities(self, seen: Sequence[tuple[str, str, datetime]]) -> list[bool]:
        """:meth:`remember_activity` for many (conversation, activity id, seen at) in one statement, in order; an id
        twice in ``seen`` is new the first time only."""
        ...

    async def remember_activity(self, conversation_id: str, activity_id: str, seen_at: datetime) -> bool:
        """Record an inbound activity id. True the first time, False for a redelivery."""
        ...

    async def forget_activities_before(self, cutoff: datetime) -> int:
        """Prune de-duplication entries older than ``cutoff``; return how many."""
        ...

    # -- conversation references ------------------------------------------------------------------------
    async def upsert_conversation(self, record: ConversationRecord) -> bool:
        """Insert or update; reactivates an inactive one. True when anything changed.

        A replay of identical data changes nothing (``updated_at`` stays). ``installed_at`` is kept from the
        first insert.
        """
        ...

    async def get_conversation(self, conversation_id: str) -> ConversationRecord | None: ...

    async def find_personal_conversation(self, tenant_id: str, user_aad_object_id: str) -> ConversationRecord | None:
        """The active 1:1 chat with that user, if Courier has one."""
        ...

    async def find_personal_conversations(
        self, tenant_id: str, user_aad_object_ids: Sequence[str]
    ) -> dict[str, ConversationRecord]:
        """The active 1:1 chats with many users at once (fan-outs), keyed by user; users without one are absent."""
        ...

    async def find_channel_conversation(
        self, tenant_id: str, team_id: str, channel_id: str
    ) -> ConversationRecord | None: ...

    async def deactivate_conversation(self, conversation_id: str, at: datetime) -> bool:
        """Mark inactive (uninstall, bot removed). True when it was active."""
        ...

    async def deactivate_team(self, tenant_id: str, team_id: str, at: datetime) -> int:
        """Mark every conversation of a team inactive (bot removed from the team)."""
        ...

    def iter_conversations(
        self,
        *,
        tenant_id: str | None = None,
        kind: ConversationKind | None = None,
        active: bool | None = True,
        page_size: int = 500,
    ) -> AsyncIterator[ConversationRecord]:
        """Stream conversations in a stable order, a page at a time (never all in memory)."""
        ...

    # -- tenants ----------------------------------------------------------------------------------------
    async def upsert_tenant(self, record: TenantRecord) -> bool: ...

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None: ...

    async def set_tenant_status(self, tenant_id: str, status: TenantStatus, at: datetime) -> bool: ...

    async def list_tenants(self) -> Sequence[TenantRecord]: ...

    # -- a small key/value area for settings-like state (e.g. per-user preferences) --------------------
    async def get_value(self, namespace: str, key: str) -> Any | None:
        """A JSON value, or None."""
        ...

    async def get_values(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
        """The JSON values of those ``keys`` that exist, in one query (keep ``keys`` to a few hundred)."""
        ...

    async def put_value(self, namespace: str, key: str, value: Any) -> None: ...

    async def delete_value(self, namespace: str, key: str) -> bool:
        """True only for the caller that actually deleted the row."""
        ...

    async def values(self, namespace: str) -> list[tuple[str, Any]]:
        """Every (key, value) of a namespace (small namespaces only: resumable jobs, settings)."""
        ...

    async def take_value(self, namespace: str, key: str) -> Any | None:
        """Delete and return the value atomically (single-use tokens): concurrent takers, one winner."""
        ...
