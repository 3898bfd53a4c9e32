"""Meetings Courier created (enough to redraw their card, list them, find them from a calendar change), the schedule
request kept while its organizer signs in, and each organizer's Graph subscription to their calendar's changes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.platform.storage.base import Database, Row, Store
from bot.platform.storage.times import from_db_time, to_db_time

SCHEDULED = "scheduled"
CANCELLED = "cancelled"
PENDING = "pending_schedule"  # user key -> the schedule request to finish after sign-in
SUBSCRIPTIONS = "graph_subscription"  # user key -> {id, client_state, expires}
OWNERS = "graph_subscription_owner"  # subscription id -> {user, id, client_state, expires} (a user key before)


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
    room_email: str | None = None
    room_name: str | None = None
    room_response: str | None = None  # the room's answer: accepted, declined, none (not yet)
    caller: str | None = None  # the system that created it through the meetings API


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
        room_email=row["room_email"],
        room_name=row["room_name"],
        room_response=row["room_response"],
        caller=row["caller"],
    )


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """What someone asked ("schedule ...") before they had signed in, and where."""

    text: str
    conversation_id: str


@dataclass(frozen=True, slots=True)
class CalendarSubscription:
    """An organizer's Graph subscription to ``me/events``."""

    id: str
    client_state: str
    expires: datetime


class MeetingStore:
    """Over the platform's store; its driver is read per call, so building the feature touches no storage."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def _db(self) -> Database:
        return self._store.db

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
                "updated_at, room_email, room_name, room_response, caller) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                "$9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18, $19, $20)",
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
                meeting.room_email,
                meeting.room_name,
                meeting.room_response,
                meeting.caller,
            )
            row = await tx.fetchrow("SELECT * FROM meetings WHERE id = $1", meeting_id)
            assert row is not None
            return _meeting(row)

    async def get(self, meeting_id: str) -> Meeting | None:
        row = await self._db.fetchrow("SELECT * FROM meetings WHERE id = $1", meeting_id)
        return _meeting(row) if row else None

    async def by_transaction(self, transaction_id: str) -> Meeting | None:
        row = await self._db.fetchrow("SELECT * FROM meetings WHERE transaction_id = $1", transaction_id)
        return _meeting(row) if row else None

    async def edited(
        self,
        meeting_id: str,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        attendees: Sequence[str],
        room_response: str | None,
        now: datetime,
    ) -> None:
        """The meeting as its event now stands (after an edit through the API, or one made in Outlook)."""
        await self._db.execute(
            "UPDATE meetings SET subject = $2, start_at = $3, end_at = $4, attendees = $5, room_response = $6, "
            "updated_at = $7 WHERE id = $1",
            meeting_id,
            subject,
            to_db_time(start),
            to_db_time(end),
            json.dumps(list(attendees)),
            room_response,
            to_db_time(now),
        )

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

    # -- the request kept while its organizer signs in ------------------------------------------------------
    async def keep_request(self, user_key: str, request: PendingRequest) -> None:
        await self._store.put_value(PENDING, user_key, {"text": request.text, "conversation": request.conversation_id})

    async def pending_request(self, user_key: str) -> PendingRequest | None:
        return _pending(await self._store.get_value(PENDING, user_key))

    async def take_request(self, user_key: str) -> PendingRequest | None:
        """The kept request, once: a second click finds nothing."""
        return _pending(await self._store.take_value(PENDING, user_key))

    # -- calendar subscriptions ---------------------------------------------------------------------------
    async def subscription(self, user_key: str) -> CalendarSubscription | None:
        value = await self._store.get_value(SUBSCRIPTIONS, user_key)
        return _subscription(value) if isinstance(value, dict) else None

    async def save_subscription(self, user_key: str, subscription: CalendarSubscription) -> None:
        record = _subscription_record(subscription)
        await self._store.put_value(SUBSCRIPTIONS, user_key, record)
        await self._store.put_value(OWNERS, subscription.id, {**record, "user": user_key})

    async def subscription_owner(self, subscription_id: str) -> tuple[str, CalendarSubscription] | None:
        """Whose subscription this is (their user key) and its record, if Courier holds it."""
        return (await self.subscription_owners([subscription_id])).get(subscription_id)

    async def subscription_owners(self, subscription_ids: Sequence[str]) -> dict[str, tuple[str, CalendarSubscription]]:
        """:meth:`subscription_owner` for many ids in one query (Graph's notifications are unauthenticated, so
        their ids are looked up together, never one query each). Owners recorded before the record was kept with
        them take one more query, for those only."""
        owners = await self._store.get_values(OWNERS, subscription_ids)
        found: dict[str, tuple[str, CalendarSubscription]] = {}
        legacy: dict[str, str] = {}
        for subscription_id, value in owners.items():
            if isinstance(value, dict) and "user" in value:
                found[subscription_id] = (str(value["user"]), _subscription(value))
            elif isinstance(value, str) and value:
                legacy[subscription_id] = value
        if legacy:
            records = await self._store.get_values(SUBSCRIPTIONS, list(legacy.values()))
            for subscription_id, user_key in legacy.items():
                record = records.get(user_key)
                if isinstance(record, dict):
                    found[subscription_id] = (user_key, _subscription(record))
        return found


def _subscription_record(subscription: CalendarSubscription) -> dict[str, str]:
    return {
        "id": subscription.id,
        "client_state": subscription.client_state,
        "expires": subscription.expires.isoformat(),
    }


def _subscription(value: dict[str, Any]) -> CalendarSubscription:
    return CalendarSubscription(
        str(value["id"]), str(value["client_state"]), datetime.fromisoformat(str(value["expires"]))
    )


def _pending(value: object) -> PendingRequest | None:
    if not isinstance(value, dict) or "text" not in value:
        return None
    return PendingRequest(str(value["text"]), str(value.get("conversation") or ""))
