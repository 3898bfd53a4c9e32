"""``SqlStore``: the :class:`~bot.platform.storage.base.Store` written once over the :class:`Database` seam."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.platform.storage.base import Row
from bot.platform.storage.migrate import PLATFORM_MIGRATIONS, MigratableDatabase, apply_migrations
from bot.platform.storage.models import ConversationKind, ConversationRecord, TenantRecord, TenantStatus
from bot.platform.storage.people import PeopleStore
from bot.platform.storage.times import from_db_time, to_db_time

logger = logging.getLogger(__name__)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _conversation(row: Row) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=row["conversation_id"],
        tenant_id=row["tenant_id"],
        kind=ConversationKind(row["kind"]),
        service_url=row["service_url"],
        reference=json.loads(row["reference"]),
        user_aad_object_id=row["user_aad_object_id"],
        team_id=row["team_id"],
        channel_id=row["channel_id"],
        name=row["name"],
        active=bool(row["active"]),
        installed_at=from_db_time(row["installed_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


def _tenant(row: Row) -> TenantRecord:
    return TenantRecord(
        tenant_id=row["tenant_id"],
        name=row["name"],
        auth_method=row["auth_method"],
        status=TenantStatus(row["status"]),
        linked_at=from_db_time(row["linked_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


_CONVERSATION_DATA = (
    "tenant_id",
    "kind",
    "service_url",
    "reference",
    "user_aad_object_id",
    "team_id",
    "channel_id",
    "name",
)


class SqlStore:
    def __init__(
        self, db: MigratableDatabase, *, close: bool = True, migrations: Sequence[Path] = PLATFORM_MIGRATIONS
    ) -> None:
        self._db = db
        self._owns = close
        self._version = 0
        self._migrations = tuple(dict.fromkeys((*PLATFORM_MIGRATIONS, *migrations)))
        self._people = PeopleStore(db)

    @property
    def db(self) -> MigratableDatabase:
        return self._db

    @property
    def people(self) -> PeopleStore:
        return self._people

    # -- lifecycle --------------------------------------------------------------------------------------
    async def open(self) -> None:
        connect = getattr(self.db, "connect", None)
        if connect is not None and self._owns:
            await connect()
        self._version = await apply_migrations(self.db, self._migrations)

    async def close(self) -> None:
        close = getattr(self.db, "close", None)
        if close is not None and self._owns:
            await close()

    async def ping(self) -> bool:
        try:
            return bool(await self.db.fetchval("SELECT 1") == 1)
        except Exception:
            logger.exception("storage ping failed")
            return False

    async def schema_version(self) -> int:
        return int(await self.db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlStore]:
        async with self.db.transaction():
            yield self

    # -- de-duplication ---------------------------------------------------------------------------------
    async def remember_activity(self, conversation_id: str, activity_id: str, seen_at: datetime) -> bool:
        inserted = await self.db.execute(
            "INSERT INTO seen_activities (conversation_id, activity_id, seen_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (conversation_id, activity_id) DO NOTHING",
            conversation_id,
            activity_id,
            to_db_time(seen_at),
        )
        return inserted == 1

    async def remember_activities(self, seen: Sequence[tuple[str, str, datetime]]) -> list[bool]:
        if not seen:
            return []
        values = ", ".join(f"(${3 * n + 1}, ${3 * n + 2}, ${3 * n + 3})" for n in range(len(seen)))
        rows = await self.db.fetch(
            f"INSERT INTO seen_activities (conversation_id, activity_id, seen_at) VALUES {values} "
            "ON CONFLICT (conversation_id, activity_id) DO NOTHING RETURNING conversation_id, activity_id",
            *(value for c, a, at in seen for value in (c, a, to_db_time(at))),
        )
        new = {(row["conversation_id"], row["activity_id"]) for row in rows}
        answers = []
        for conversation_id, activity_id, _ in seen:
            answers.append((conversation_id, activity_id) in new)
            new.discard((conversation_id, activity_id))  # the same id twice in one batch: new the first time only
        return answers

    async def forget_activities_before(self, cutoff: datetime) -> int:
        return await self.db.execute("DELETE FROM seen_activities WHERE seen_at < $1", to_db_time(cutoff))

    # -- conversations ----------------------------------------------------------------------------------
    async def upsert_conversation(self, record: ConversationRecord) -> bool:
        now = to_db_time(record.updated_at or datetime.now(UTC))
        installed = to_db_time(record.installed_at) if record.installed_at else now
        values: dict[str, Any] = {
            "tenant_id": record.tenant_id,
            "kind": record.kind.value,
            "service_url": record.service_url,
            "reference": _json(record.reference),
            "user_aad_object_id": record.user_aad_object_id,
            "team_id": record.team_id,
            "channel_id": record.channel_id,
            "name": record.name,
        }
        # Update only when data differs or the row was inactive, so an identical replay changes nothing.
        differs = " OR ".join(f"conversations.{c} IS DISTINCT FROM excluded.{c}" for c in _CONVERSATION_DATA)
        sets = ", ".join(f"{c} = excluded.{c}" for c in _CONVERSATION_DATA)
        changed = await self.db.execute(
            "INSERT INTO conversations (conversation_id, tenant_id, kind, service_url, reference, "
            "user_aad_object_id, team_id, channel_id, name, active, installed_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11) "
            f"ON CONFLICT (conversation_id) DO UPDATE SET {sets}, active = 1, updated_at = excluded.updated_at "
            f"WHERE conversations.active = 0 OR {differs}",
            record.conversation_id,
            *values.values(),
            installed,
            now,
        )
        return changed == 1

    async def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        row = await self.db.fetchrow("SELECT * FROM conversations WHERE conversation_id = $1", conversation_id)
        return _conversation(row) if row else None

    async def find_personal_conversation(self, tenant_id: str, user_aad_object_id: str) -> ConversationRecord | None:
        row = await self.db.fetchrow(
            "SELECT * FROM conversations WHERE tenant_id = $1 AND user_aad_object_id = $2 AND kind = 'personal' "
            "AND active = 1 ORDER BY updated_at DESC LIMIT 1",
            tenant_id,
            user_aad_object_id,
        )
        return _conversation(row) if row else None

    async def find_personal_conversations(
        self, tenant_id: str, user_aad_object_ids: Sequence[str]
    ) -> dict[str, ConversationRecord]:
        found: dict[str, ConversationRecord] = {}
        unique = list(dict.fromkeys(user_aad_object_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join(f"${n}" for n in range(2, len(chunk) + 2))
            rows = await self.db.fetch(
                "SELECT * FROM conversations WHERE tenant_id = $1 AND kind = 'personal' AND active = 1 "
                f"AND user_aad_object_id IN ({marks}) ORDER BY updated_at",
                tenant_id,
                *chunk,
            )
            for row in rows:  # the newest wins, as in find_personal_conversation
                record = _conversation(row)
                if record.user_aad_object_id:
                    found[record.user_aad_object_id] = record
        return found

    async def find_channel_conversation(
        self, tenant_id: str, team_id: str, channel_id: str
    ) -> ConversationRecord | None:
        row = await self.db.fetchrow(
            "SELECT * FROM conversations WHERE tenant_id = $1 AND team_id = $2 AND channel_id = $3 "
            "AND kind = 'channel' AND active = 1 LIMIT 1",
            tenant_id,
            team_id,
            channel_id,
        )
        return _conversation(row) if row else None

    async def deactivate_conversation(self, conversation_id: str, at: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE conversations SET active = 0, updated_at = $2 WHERE conversation_id = $1 AND active = 1",
            conversation_id,
            to_db_time(at),
        )
        return changed == 1

    async def deactivate_team(self, tenant_id: str, team_id: str, at: datetime) -> int:
        return await self.db.execute(
            "UPDATE conversations SET active = 0, updated_at = $3 WHERE tenant_id = $1 AND team_id = $2 AND active = 1",
            tenant_id,
            team_id,
            to_db_time(at),
        )

    async def iter_conversations(
        self,
        *,
        tenant_id: str | None = None,
        kind: ConversationKind | None = None,
        active: bool | None = True,
        page_size: int = 500,
    ) -> AsyncIterator[ConversationRecord]:
        after = ""
        while True:
            conditions = ["conversation_id > $1"]
            args: list[Any] = [after]
            if tenant_id is not None:
                args.append(tenant_id)
                conditions.append(f"tenant_id = ${len(args)}")
            if kind is not None:
                args.append(kind.value)
                conditions.append(f"kind = ${len(args)}")
            if active is not None:
                args.append(1 if active else 0)
                conditions.append(f"active = ${len(args)}")
            args.append(page_size)
            rows = await self.db.fetch(
                f"SELECT * FROM conversations WHERE {' AND '.join(conditions)} "
                f"ORDER BY conversation_id LIMIT ${len(args)}",
                *args,
            )
            for row in rows:
                yield _conversation(row)
            if len(rows) < page_size:
                return
            after = rows[-1]["conversation_id"]

    # -- tenants ----------------------------------------------------------------------------------------
    async def upsert_tenant(self, record: TenantRecord) -> bool:
        now = to_db_time(record.updated_at or datetime.now(UTC))
        linked = to_db_time(record.linked_at) if record.linked_at else now
        changed = await self.db.execute(
            "INSERT INTO tenants (tenant_id, name, auth_method, status, linked_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET "
            "name = COALESCE(excluded.name, tenants.name), auth_method = excluded.auth_method, "
            "status = excluded.status, updated_at = excluded.updated_at "
            "WHERE tenants.name IS DISTINCT FROM COALESCE(excluded.name, tenants.name) "
            "OR tenants.auth_method IS DISTINCT FROM excluded.auth_method "
            "OR tenants.status IS DISTINCT FROM excluded.status",
            record.tenant_id,
            record.name,
            record.auth_method,
            record.status.value,
            linked,
            now,
        )
        return changed == 1

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = await self.db.fetchrow("SELECT * FROM tenants WHERE tenant_id = $1", tenant_id)
        return _tenant(row) if row else None

    async def set_tenant_status(self, tenant_id: str, status: TenantStatus, at: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE tenants SET status = $2, updated_at = $3 WHERE tenant_id = $1 AND status <> $2",
            tenant_id,
            status.value,
            to_db_time(at),
        )
        return changed == 1

    async def list_tenants(self) -> Sequence[TenantRecord]:
        return [_tenant(r) for r in await self.db.fetch("SELECT * FROM tenants ORDER BY tenant_id")]

    # -- key/value --------------------------------------------------------------------------------------
    async def get_value(self, namespace: str, key: str) -> Any | None:
        raw = await self.db.fetchval("SELECT value FROM kv WHERE namespace = $1 AND key = $2", namespace, key)
        return json.loads(raw) if raw is not None else None

    async def get_values(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        marks = ", ".join(f"${n}" for n in range(2, len(wanted) + 2))
        rows = await self.db.fetch(
            f"SELECT key, value FROM kv WHERE namespace = $1 AND key IN ({marks})", namespace, *wanted
        )
        return {row["key"]: json.loads(row["value"]) for row in rows}

    async def put_value(self, namespace: str, key: str, value: Any) -> None:
        await self.db.execute(
            "INSERT INTO kv (namespace, key, value, updated_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            namespace,
            key,
            _json(value),
            to_db_time(datetime.now(UTC)),
        )

    async def delete_value(self, namespace: str, key: str) -> bool:
        return await self.db.execute("DELETE FROM kv WHERE namespace = $1 AND key = $2", namespace, key) == 1

    async def values(self, namespace: str) -> list[tuple[str, Any]]:
        rows = await self.db.fetch("SELECT key, value FROM kv WHERE namespace = $1 ORDER BY key", namespace)
        return [(row["key"], json.loads(row["value"])) for row in rows]

    async def take_value(self, namespace: str, key: str) -> Any | None:
        """Delete and return atomically: of two concurrent takers, exactly one gets the value."""
        raw = await self.db.fetchval("DELETE FROM kv WHERE namespace = $1 AND key = $2 RETURNING value", namespace, key)
        return json.loads(raw) if raw is not None else None
