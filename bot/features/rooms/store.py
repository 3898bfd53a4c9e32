"""The rooms' SQL: the watch (one per tenant), each room's last presence, and the alerts.

An alert's life: *claimed* (a row inserted with the room's ``open_key``; the unique constraint lets one writer win
across replicas), *sending* (marked just before the card leaves: a crash after it never sends a second card),
*posted* (the card's activity id kept, to update it in place), *closed* (the room came back; ``open_key`` NULL, so the
next outage may open a new alert). A *claimed* row whose lease ran out was never sent and may be claimed again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.platform.storage.base import Database, Row, Store
from bot.platform.storage.times import from_db_time, to_db_time

CLAIMED = "claimed"
SENDING = "sending"
POSTED = "posted"
CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Watch:
    tenant_id: str
    conversation_id: str
    watched_by: str
    rooms_refreshed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RoomState:
    room_id: str
    email: str
    name: str
    availability: str | None
    offline_since: datetime | None


@dataclass(frozen=True, slots=True)
class RoomNow:
    """A room as ``rooms status`` shows it."""

    name: str
    availability: str
    offline_since: datetime | None


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    tenant_id: str
    room_id: str
    room_name: str
    conversation_id: str
    state: str
    offline_since: datetime
    opened_at: datetime
    activity_id: str | None
    back_at: datetime | None


def _time(value: object) -> datetime | None:
    return from_db_time(value) if value is not None else None


def _alert(row: Row) -> Alert:
    return Alert(
        id=row["id"],
        tenant_id=row["tenant_id"],
        room_id=row["room_id"],
        room_name=row["room_name"],
        conversation_id=row["conversation_id"],
        state=row["state"],
        offline_since=from_db_time(row["offline_since"]),
        opened_at=from_db_time(row["opened_at"]),
        activity_id=row["activity_id"],
        back_at=_time(row["back_at"]),
    )


class RoomStore:
    """Over the platform's store; its driver is read per call, so building the feature touches no storage."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def _db(self) -> Database:
        return self._store.db

    # -- the watch ------------------------------------------------------------------------------------
    async def watch(self, tenant_id: str, conversation_id: str, user_id: str, now: datetime) -> None:
        """Watch the tenant's rooms from this conversation (a later watch moves it here)."""
        await self._db.execute(
            "INSERT INTO room_watches (tenant_id, conversation_id, watched_by, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id) DO UPDATE SET "
            "conversation_id = excluded.conversation_id, watched_by = excluded.watched_by, "
            "updated_at = excluded.updated_at",
            tenant_id,
            conversation_id,
            user_id,
            to_db_time(now),
        )

    async def unwatch(self, tenant_id: str) -> bool:
        return await self._db.execute("DELETE FROM room_watches WHERE tenant_id = $1", tenant_id) > 0

    async def get_watch(self, tenant_id: str) -> Watch | None:
        row = await self._db.fetchrow("SELECT * FROM room_watches WHERE tenant_id = $1", tenant_id)
        if row is None:
            return None
        return Watch(row["tenant_id"], row["conversation_id"], row["watched_by"], _time(row["rooms_refreshed_at"]))

    # -- rooms ----------------------------------------------------------------------------------------
    async def replace_rooms(self, tenant_id: str, rooms: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """The tenant's rooms as Graph lists them now (id, email, name): new ones added, gone ones dropped, the
        presence kept for those that stay."""
        async with self._db.transaction() as tx:
            rows = await tx.fetch("SELECT room_id FROM room_states WHERE tenant_id = $1", tenant_id)
            known = {r["room_id"] for r in rows}
            listed = {room_id for room_id, _, _ in rooms}
            for gone in known - listed:
                await tx.execute("DELETE FROM room_states WHERE tenant_id = $1 AND room_id = $2", tenant_id, gone)
            await tx.executemany(
                "INSERT INTO room_states (tenant_id, room_id, email, name) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (tenant_id, room_id) DO UPDATE SET email = excluded.email, name = excluded.name",
                [(tenant_id, room_id, email, name) for room_id, email, name in rooms],
            )
            await tx.execute(
                "UPDATE room_watches SET rooms_refreshed_at = $2 WHERE tenant_id = $1", tenant_id, to_db_time(now)
            )

    async def rooms(self, tenant_id: str) -> list[RoomState]:
        rows = await self._db.fetch("SELECT * FROM room_states WHERE tenant_id = $1 ORDER BY name, room_id", tenant_id)
        return [
            RoomState(r["room_id"], r["email"], r["name"], r["availability"], _time(r["offline_since"])) for r in rows
        ]

    async def save_presence(self, tenant_id: str, states: Sequence[RoomState], now: datetime) -> None:
        await self._db.executemany(
            "UPDATE room_states SET availability = $3, offline_since = $4, checked_at = $5 "
            "WHERE tenant_id = $1 AND room_id = $2",
            [
                (
                    tenant_id,
                    s.room_id,
                    s.availability,
                    to_db_time(s.offline_since) if s.offline_since else None,
                    to_db_time(now),
                )
                for s in states
            ],
        )

    # -- alerts ---------------------------------------------------------------------------------------
    async def claim_alert(
        self, watch: Watch, room: RoomState, owner: str, now: datetime, lease: timedelta
    ) -> Alert | None:
        """Open the room's alert for this writer, or None when it is open already (or another writer holds it).
        A claim whose lease ran out before anything was sent is taken over."""
        tenant_id, conversation_id = watch.tenant_id, watch.conversation_id
        key = f"{tenant_id}:{room.room_id}"
        assert room.offline_since is not None
        async with self._db.transaction() as tx:
            inserted = await tx.execute(
                "INSERT INTO room_alerts (id, tenant_id, room_id, room_name, conversation_id, open_key, state, "
                "offline_since, opened_at, claimed_by, claimed_until) "
                "VALUES ($1, $2, $3, $4, $5, $6, 'claimed', $7, $8, $9, $10) ON CONFLICT (open_key) DO NOTHING",
                uuid.uuid4().hex,
                tenant_id,
                room.room_id,
                room.name,
                conversation_id,
                key,
                to_db_time(room.offline_since),
                to_db_time(now),
                owner,
                to_db_time(now + lease),
            )
            if not inserted:
                inserted = await tx.execute(
                    "UPDATE room_alerts SET claimed_by = $2, claimed_until = $3, conversation_id = $4 "
                    "WHERE open_key = $1 AND state = 'claimed' AND claimed_until < $5",
                    key,
                    owner,
                    to_db_time(now + lease),
                    conversation_id,
                    to_db_time(now),
                )
            row = await tx.fetchrow("SELECT * FROM room_alerts WHERE open_key = $1 AND claimed_by = $2", key, owner)
        return _alert(row) if inserted and row is not None else None

    async def mark_sending(self, alert_id: str, owner: str) -> bool:
        """Just before the card leaves: False when the claim was lost (then nothing is sent)."""
        changed = await self._db.execute(
            "UPDATE room_alerts SET state = 'sending' WHERE id = $1 AND claimed_by = $2 AND state = 'claimed'",
            alert_id,
            owner,
        )
        return changed > 0

    async def mark_posted(self, alert_id: str, activity_id: str | None) -> None:
        await self._db.execute(
            "UPDATE room_alerts SET state = 'posted', activity_id = $2 WHERE id = $1", alert_id, activity_id
        )

    async def open_alerts(self, tenant_id: str) -> dict[str, Alert]:
        rows = await self._db.fetch(
            "SELECT * FROM room_alerts WHERE tenant_id = $1 AND open_key IS NOT NULL", tenant_id
        )
        return {r["room_id"]: _alert(r) for r in rows}

    async def close_alert(self, alert_id: str, back_at: datetime) -> bool:
        """The room is back: close the alert (once; False when it was closed already)."""
        changed = await self._db.execute(
            "UPDATE room_alerts SET state = 'closed', open_key = NULL, back_at = $2, closed_at = $2 "
            "WHERE id = $1 AND open_key IS NOT NULL",
            alert_id,
            to_db_time(back_at),
        )
        return changed > 0

    async def alerts_since(self, tenant_id: str, since: datetime) -> list[Alert]:
        """Alerts opened since ``since`` or still open (the daily summary)."""
        rows = await self._db.fetch(
            "SELECT * FROM room_alerts WHERE tenant_id = $1 AND (opened_at >= $2 OR open_key IS NOT NULL) "
            "ORDER BY opened_at",
            tenant_id,
            to_db_time(since),
        )
        return [_alert(r) for r in rows]

    async def all_alerts(self, tenant_id: str) -> list[Alert]:
        rows = await self._db.fetch("SELECT * FROM room_alerts WHERE tenant_id = $1 ORDER BY opened_at", tenant_id)
        return [_alert(r) for r in rows]
