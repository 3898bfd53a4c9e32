"""Meetings Courier created: enough to redraw their card, list them, and find them from a calendar change."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from bot.platform.storage.base import Database, Row
from bot.platform.storage.times import from_db_time, to_db_time

SCHEDULED = "scheduled"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str
    tenant_id: str
    organizer_id: str
    organizer_name: str | None
    event_id: str
    transaction_id: str
    subject: str
    start_at: datetime
    end_at: datetime
    zone: str
    attendees: tuple[str, ...]
    join_url: str | None
    status: str
    conversation_id: str | None = None
    card_activity_id: str | None = None


def _meeting(row: Row) -> Meeting:
    return Meeting(
        id=row["id"],
        tenant_id=row["tenant_id"],
        organizer_id=row["organizer_id"],
        organizer_name=row["organizer_name"],
        event_id=row["event_id"],
        transaction_id=row["transaction_id"],
        subject=row["subject"],
        start_at=from_db_time(row["start_at"]),
        end_at=from_db_time(row["end_at"]),
        zone=row["zone"],
        attendees=tuple(json.loads(row["attendees"])),
        join_url=row["join_url"],
        status=row["status"],
        conversation_id=row["conversation_id"],
        card_activity_id=row["card_activity_id"],
    )


class MeetingStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, meeting: Meeting, now: datetime) -> Meeting:
        """Store a created meeting; the same transaction id returns the row stored the first time."""
        async with self._db.transaction() as tx:
            existing = await tx.fetchrow("SELECT * FROM meetings WHERE transaction_id = $1", meeting.transaction_id)
            if existing is not None:
                return _meeting(existing)
            meeting_id = meeting.id or uuid.uuid4().hex
            await tx.execute(
                "INSERT INTO meetings (id, tenant_id, organizer_id, organizer_name, event_id, transaction_id, subject, "
                "start_at, end_at, zone, attendees, join_url, status, conversation_id, card_activity_id, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
                meeting_id,
                meeting.tenant_id,
                meeting.organizer_id,
                meeting.organizer_name,
                meeting.event_id,
                meeting.transaction_id,
                meeting.subject,
                to_db_time(meeting.start_at),
                to_db_time(meeting.end_at),
                meeting.zone,
                json.dumps(list(meeting.attendees)),
                meeting.join_url,
                meeting.status,
                meeting.conversation_id,
                meeting.card_activity_id,
                to_db_time(now),
            )
            row = await tx.fetchrow("SELECT * FROM meetings WHERE id = $1", meeting_id)
            assert row is not None
            return _meeting(row)

    async def get(self, meeting_id: str) -> Meeting | None:
        row = await self._db.fetchrow("SELECT * FROM meetings WHERE id = $1", meeting_id)
        return _meeting(row) if row else None

    async def by_event(self, event_id: str) -> Meeting | None:
        row = await self._db.fetchrow("SELECT * FROM meetings WHERE event_id = $1", event_id)
        return _meeting(row) if row else None

    async def moved(self, meeting_id: str, start: datetime, end: datetime, now: datetime) -> None:
        await self._db.execute(
            "UPDATE meetings SET start_at = $2, end_at = $3, updated_at = $4 WHERE id = $1",
            meeting_id,
            to_db_time(start),
            to_db_time(end),
            to_db_time(now),
        )

    async def set_status(self, meeting_id: str, status: str, now: datetime) -> None:
        await self._db.execute(
            "UPDATE meetings SET status = $2, updated_at = $3 WHERE id = $1", meeting_id, status, to_db_time(now)
        )

    async def set_card(self, meeting_id: str, conversation_id: str, activity_id: str | None, now: datetime) -> None:
        await self._db.execute(
            "UPDATE meetings SET conversation_id = $2, card_activity_id = $3, updated_at = $4 WHERE id = $1",
            meeting_id,
            conversation_id,
            activity_id,
            to_db_time(now),
        )

    async def upcoming(self, tenant_id: str, organizer_id: str, now: datetime, *, limit: int = 20) -> list[Meeting]:
        rows = await self._db.fetch(
            "SELECT * FROM meetings WHERE tenant_id = $1 AND organizer_id = $2 AND status = 'scheduled' "
            "AND end_at > $3 ORDER BY start_at LIMIT $4",
            tenant_id,
            organizer_id,
            to_db_time(now),
            limit,
        )
        return [_meeting(r) for r in rows]

    async def upcoming_all(self, now: datetime, *, limit: int) -> list[Meeting]:
        """Every organizer's scheduled meetings that have not ended, soonest first (calendar reconcile)."""
        rows = await self._db.fetch(
            "SELECT * FROM meetings WHERE status = 'scheduled' AND end_at > $1 ORDER BY start_at LIMIT $2",
            to_db_time(now),
            limit,
        )
        return [_meeting(r) for r in rows]
