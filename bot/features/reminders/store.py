"""The reminders table: one row per reminder, claimed and fired by the reminder job source (``jobs.py``).

Firing is exactly once per occurrence, across replicas: the job source *claims* due rows atomically (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL) with a lease, writes ``sending_at`` (committed) right before the card leaves, then either
moves the row to its next occurrence or marks it fired. An expired claim without ``sending_at`` goes back to
waiting; one with it is treated as fired (the card may have left) and never sent again.

The table's ``kind`` column stays (the weekly digests that used it moved to the platform's jobs in migration 0010);
only ``kind = 'reminder'`` rows are due, claimed and recovered here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.platform.storage.base import Database, Row, Store
from bot.platform.storage.times import from_db_time, to_db_time

ACTIVE = "active"
FIRING = "firing"
FIRED = "fired"
DONE = "done"
CANCELLED = "cancelled"
MISSED = "missed"
DISABLED = "disabled"
FAILED = "failed"  # could not be delivered after bounded retries; its setter was told
SUSPENDED = "suspended"
UPCOMING = (ACTIVE, FIRING)


@dataclass(frozen=True, slots=True)
class Reminder:
    id: str
    tenant_id: str
    creator_id: str
    creator_name: str | None
    target_kind: str  # "user" (a 1:1 chat with target_user_id) | "conversation" (a chat or channel)
    target_user_id: str | None
    target_name: str | None
    conversation_id: str | None
    origin_conversation_id: str | None
    text: str
    source_link: str | None
    zone: str
    rule: str | None
    anchor: datetime | None
    due_at: datetime
    occurrence_at: datetime  # the occurrence being waited for (due_at may be later: quiet hours)
    status: str
    claim_token: str | None = None
    fired_count: int = 0
    last_fired_at: datetime | None = None
    last_activity_id: str | None = None
    created_at: datetime | None = None
    delivery_attempts: int = 0  # failed attempts to deliver the current occurrence

    @property
    def repeats(self) -> bool:
        return self.rule is not None


def _time(value: Any) -> datetime | None:
    return from_db_time(value) if value else None


def _reminder(row: Row) -> Reminder:
    return Reminder(
        id=row["id"],
        tenant_id=row["tenant_id"],
        creator_id=row["creator_id"],
        creator_name=row["creator_name"],
        target_kind=row["target_kind"],
        target_user_id=row["target_user_id"],
        target_name=row["target_name"],
        conversation_id=row["conversation_id"],
        origin_conversation_id=row["origin_conversation_id"],
        text=row["text"],
        source_link=row["source_link"],
        zone=row["zone"],
        rule=row["rule"],
        anchor=_time(row["anchor"]),
        due_at=from_db_time(row["due_at"]),
        occurrence_at=from_db_time(row["occurrence_at"]),
        status=row["status"],
        claim_token=row["claim_token"],
        fired_count=int(row["fired_count"]),
        last_fired_at=_time(row["last_fired_at"]),
        last_activity_id=row["last_activity_id"],
        created_at=_time(row["created_at"]),
        delivery_attempts=int(row["delivery_attempts"] or 0),
    )


class ReminderStore:
    """Reads ``store.db`` when used, not when built (a feature is built before storage is opened)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def _db(self) -> Database:
        return self._store.db

    async def create(self, reminder: Reminder, now: datetime) -> Reminder:
        stamp = to_db_time(now)
        made = replace(reminder, id=reminder.id or uuid.uuid4().hex)
        await self._db.execute(
            "INSERT INTO reminders (id, tenant_id, creator_id, creator_name, target_kind, target_user_id, target_name, "
            "conversation_id, origin_conversation_id, text, source_link, zone, rule, anchor, due_at, occurrence_at, "
            "status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
            "$14, $15, $16, $17, $18, $18)",
            made.id,
            made.tenant_id,
            made.creator_id,
            made.creator_name,
            made.target_kind,
            made.target_user_id,
            made.target_name,
            made.conversation_id,
            made.origin_conversation_id,
            made.text,
            made.source_link,
            made.zone,
            made.rule,
            to_db_time(made.anchor) if made.anchor else None,
            to_db_time(made.due_at),
            to_db_time(made.occurrence_at),
            made.status,
            stamp,
        )
        return made

    async def create_many(self, reminders: Sequence[Reminder], now: datetime) -> None:
        """Bulk insert (benchmarks, imports): one round trip per 1,000."""
        stamp = to_db_time(now)
        rows = [
            (
                r.id or uuid.uuid4().hex,
                r.tenant_id,
                r.creator_id,
                r.creator_name,
                r.target_kind,
                r.target_user_id,
                r.target_name,
                r.conversation_id,
                r.origin_conversation_id,
                r.text,
                r.source_link,
                r.zone,
                r.rule,
                to_db_time(r.anchor) if r.anchor else None,
                to_db_time(r.due_at),
                to_db_time(r.occurrence_at),
                r.status,
                stamp,
            )
            for r in reminders
        ]
        async with self._db.transaction() as tx:
            for start in range(0, len(rows), 1000):
                await tx.executemany(
                    "INSERT INTO reminders (id, tenant_id, creator_id, creator_name, target_kind, target_user_id, "
                    "target_name, conversation_id, origin_conversation_id, text, source_link, zone, rule, anchor, "
                    "due_at, occurrence_at, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                    "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)",
                    rows[start : start + 1000],
                )

    async def get(self, reminder_id: str) -> Reminder | None:
        row = await self._db.fetchrow("SELECT * FROM reminders WHERE id = $1", reminder_id)
        return _reminder(row) if row else None

    async def upcoming_for_user(self, tenant_id: str, user_id: str, *, limit: int = 20) -> list[Reminder]:
        """What a person set for themselves or someone else, soonest first."""
        rows = await self._db.fetch(
            "SELECT * FROM reminders WHERE tenant_id = $1 AND creator_id = $2 AND status IN ('active', 'firing') "
            "AND target_kind = 'user' ORDER BY due_at, id LIMIT $3",
            tenant_id,
            user_id,
            limit,
        )
        return [_reminder(r) for r in rows]

    async def count_upcoming_by(self, tenant_id: str, creator_id: str) -> int:
        """How many reminders someone has set that are still to come (for themselves, others or a channel)."""
        value = await self._db.fetchval(
            "SELECT COUNT(*) FROM reminders WHERE tenant_id = $1 AND creator_id = $2 "
            "AND status IN ('active', 'firing')",
            tenant_id,
            creator_id,
        )
        return int(value or 0)

    async def upcoming_for_conversation(self, conversation_id: str, *, limit: int = 20) -> list[Reminder]:
        rows = await self._db.fetch(
            "SELECT * FROM reminders WHERE conversation_id = $1 AND target_kind = 'conversation' "
            "AND status IN ('active', 'firing') ORDER BY due_at, id LIMIT $2",
            conversation_id,
            limit,
        )
        return [_reminder(r) for r in rows]

    async def next_due(self) -> datetime | None:
        value = await self._db.fetchval(
            "SELECT MIN(due_at) FROM reminders WHERE status = 'active' AND kind = 'reminder'"
        )
        return from_db_time(value) if value else None

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str = "") -> list[Reminder]:
        token = f"{owner}:{uuid.uuid4().hex}" if owner else uuid.uuid4().hex
        lock = " FOR UPDATE SKIP LOCKED" if self._db.dialect == "postgresql" else ""
        async with self._db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE reminders SET status = 'firing', claim_token = $1, claimed_until = $2, sending_at = NULL, "
                "updated_at = $3 WHERE id IN (SELECT id FROM reminders WHERE status = 'active' AND kind = 'reminder' "
                f"AND due_at <= $3 ORDER BY due_at LIMIT $4{lock}) RETURNING *",
                token,
                to_db_time(now + lease),
                to_db_time(now),
                limit,
            )
        return sorted((_reminder(r) for r in rows), key=lambda r: r.due_at)

    async def mark_sending(self, reminder: Reminder, now: datetime) -> bool:
        changed = await self._db.execute(
            "UPDATE reminders SET sending_at = $3, updated_at = $3 "
            "WHERE id = $1 AND claim_token = $2 AND status = 'firing' AND sending_at IS NULL",
            reminder.id,
            reminder.claim_token,
            to_db_time(now),
        )
        return changed == 1

    async def finish(
        self,
        reminder: Reminder,
        now: datetime,
        *,
        status: str,
        due_at: datetime | None = None,
        occurrence_at: datetime | None = None,
        fired: bool = False,
        activity_id: str | None = None,
        attempts: int | None = None,
    ) -> bool:
        """Release a claim: back to ``active`` at ``due_at``, or to a final status. Only the claim's holder may.
        ``attempts`` sets the failed delivery attempts of the occurrence (None keeps them)."""
        changed = await self._db.execute(
            "UPDATE reminders SET status = $3, due_at = COALESCE($4, due_at), "
            "occurrence_at = COALESCE($5, occurrence_at), claim_token = NULL, claimed_until = NULL, sending_at = NULL, "
            "fired_count = fired_count + $6, last_fired_at = CASE WHEN $6 = 1 THEN $7 ELSE last_fired_at END, "
            "last_activity_id = COALESCE($8, last_activity_id), delivery_attempts = COALESCE($9, delivery_attempts), "
            "updated_at = $7 WHERE id = $1 AND claim_token = $2",
            reminder.id,
            reminder.claim_token,
            status,
            to_db_time(due_at) if due_at else None,
            to_db_time(occurrence_at) if occurrence_at else None,
            1 if fired else 0,
            to_db_time(now),
            activity_id,
            attempts,
        )
        return changed == 1

    async def release(self, reminder: Reminder, now: datetime) -> bool:
        """Give back a claim not marked *sending* (a marked one may have left: it stays for :meth:`recover`)."""
        changed = await self._db.execute(
            f"{_GIVE_BACK} WHERE id = $2 AND claim_token = $3 AND status = 'firing' AND sending_at IS NULL",
            to_db_time(now),
            reminder.id,
            reminder.claim_token,
        )
        return changed == 1

    async def release_held(self, owner: str, now: datetime) -> int:
        """Give back every claim of ``owner`` not marked *sending*; how many."""
        return await self._db.execute(
            f"{_GIVE_BACK} WHERE status = 'firing' AND kind = 'reminder' AND sending_at IS NULL "
            "AND claim_token LIKE $2",
            to_db_time(now),
            f"{owner}:%",
        )

    async def recover(self, now: datetime) -> tuple[int, list[Reminder]]:
        """Expired claims: never sent -> waiting again (count); maybe sent -> returned, for the scheduler to move on."""
        stamp = to_db_time(now)
        requeued = await self._db.execute(
            "UPDATE reminders SET status = 'active', claim_token = NULL, claimed_until = NULL, updated_at = $1 "
            "WHERE status = 'firing' AND kind = 'reminder' AND claimed_until < $1 AND sending_at IS NULL",
            stamp,
        )
        rows = await self._db.fetch(
            "SELECT * FROM reminders WHERE status = 'firing' AND kind = 'reminder' AND claimed_until < $1 "
            "AND sending_at IS NOT NULL",
            stamp,
        )
        return requeued, [_reminder(r) for r in rows]

    async def set_status(
        self, reminder_id: str, status: str, now: datetime, *, from_statuses: Sequence[str] = (ACTIVE, FIRED)
    ) -> bool:
        states = ", ".join(f"'{s}'" for s in from_statuses)
        changed = await self._db.execute(
            f"UPDATE reminders SET status = $2, updated_at = $3 WHERE id = $1 AND status IN ({states})",
            reminder_id,
            status,
            to_db_time(now),
        )
        return changed == 1

    async def reschedule(self, reminder_id: str, due_at: datetime, now: datetime) -> bool:
        """Snooze a one-off (fired or waiting) to ``due_at``."""
        changed = await self._db.execute(
            "UPDATE reminders SET status = 'active', due_at = $2, occurrence_at = $2, updated_at = $3 "
            "WHERE id = $1 AND status IN ('active', 'fired')",
            reminder_id,
            to_db_time(due_at),
            to_db_time(now),
        )
        return changed == 1

    async def suspend_for_user(self, tenant_id: str, user_id: str, now: datetime, *, grace: timedelta) -> int:
        return await self._db.execute(
            "UPDATE reminders SET status = 'suspended', purge_after = $4, updated_at = $3 "
            "WHERE tenant_id = $1 AND (creator_id = $2 OR target_user_id = $2) AND target_kind = 'user' "
            "AND status IN ('active', 'fired')",
            tenant_id,
            user_id,
            to_db_time(now),
            to_db_time(now + grace),
        )

    async def resume_for_user(self, tenant_id: str, user_id: str, now: datetime) -> int:
        return await self._db.execute(
            "UPDATE reminders SET status = 'active', purge_after = NULL, updated_at = $3 "
            "WHERE tenant_id = $1 AND (creator_id = $2 OR target_user_id = $2) AND status = 'suspended'",
            tenant_id,
            user_id,
            to_db_time(now),
        )

    async def purge_suspended(self, now: datetime) -> int:
        return await self._db.execute(
            "DELETE FROM reminders WHERE status = 'suspended' AND purge_after < $1", to_db_time(now)
        )

    async def disable_for_conversation(self, conversation_id: str, now: datetime) -> list[Reminder]:
        rows = await self._db.fetch(
            "UPDATE reminders SET status = 'disabled', updated_at = $2 "
            "WHERE conversation_id = $1 AND target_kind = 'conversation' AND status IN ('active', 'fired') RETURNING *",
            conversation_id,
            to_db_time(now),
        )
        return [_reminder(r) for r in rows]


_GIVE_BACK = "UPDATE reminders SET status = 'active', claim_token = NULL, claimed_until = NULL, updated_at = $1"
