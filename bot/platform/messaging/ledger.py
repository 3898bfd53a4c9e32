"""The outreach ledger: notifications and one delivery row per (notification, recipient).

Exactly-once rests on three rules kept here:
1. a delivery is *claimed* atomically by one worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
   writer), with a lease;
2. it is marked *sending* (committed) before the request leaves, only by the claim's holder;
3. an expired *claimed* lease goes back to the queue (nothing left), an expired *sending* one becomes
   ``maybe_delivered`` (something may have left) and is never resent automatically.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.platform.storage.base import Database, Row, StorageError
from bot.platform.storage.times import from_db_time, to_db_time


class DeliveryState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    MAYBE_DELIVERED = "maybe_delivered"
    NOT_INSTALLED = "not_installed"
    CANCELLED = "cancelled"
    EXPANDED = "expanded"  # a team or group, replaced by one delivery per member


FINAL_STATES = frozenset(
    {
        DeliveryState.SENT,
        DeliveryState.FAILED,
        DeliveryState.MAYBE_DELIVERED,
        DeliveryState.NOT_INSTALLED,
        DeliveryState.CANCELLED,
        DeliveryState.EXPANDED,
    }
)
GROUP_KINDS = ("team", "groupId")
# A notification with at most this many recipients waits in the priority lane (claimed and paced before bulk).
SMALL_NOTIFICATION = 100


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    tenant_id: str
    sender: str
    idempotency_key: str
    card: dict[str, Any]
    ack_required: bool
    send_at: datetime
    status: str
    created_at: datetime
    parent_id: str | None = None  # a nudge's original notification


@dataclass(frozen=True, slots=True)
class Delivery:
    notification_id: str
    recipient_key: str
    recipient: dict[str, Any]
    tenant_id: str
    state: DeliveryState
    attempts: int
    claim_token: str | None = None
    reason: str | None = None
    conversation_id: str | None = None
    activity_id: str | None = None
    cursor: str | None = None
    lane: int = 1  # ratelimit.Lane: 0 priority (a small notification's), 1 bulk

    @property
    def is_group(self) -> bool:
        """A team or group recipient: it expands into its members instead of being sent to."""
        return any(kind in self.recipient for kind in GROUP_KINDS)


def _notification(row: Row) -> Notification:
    return Notification(
        id=row["id"],
        tenant_id=row["tenant_id"],
        sender=row["sender"],
        idempotency_key=row["idempotency_key"],
        card=json.loads(row["card"]),
        ack_required=bool(row["ack_required"]),
        send_at=from_db_time(row["send_at"]),
        status=row["status"],
        created_at=from_db_time(row["created_at"]),
        parent_id=row.get("parent_id"),
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(
        notification_id=row["notification_id"],
        recipient_key=row["recipient_key"],
        recipient=json.loads(row["recipient"]),
        tenant_id=row["tenant_id"],
        state=DeliveryState(row["state"]),
        attempts=int(row["attempts"]),
        claim_token=row["claim_token"],
        reason=row["reason"],
        conversation_id=row["conversation_id"],
        activity_id=row["activity_id"],
        cursor=row.get("cursor"),
        lane=int(row.get("lane", 1)),
    )


class OutreachLedger:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.engines = EngineRegistry(db)

    # -- notifications ----------------------------------------------------------------------------------
    async def create_notification(
        self,
        *,
        tenant_id: str,
        sender: str,
        idempotency_key: str,
        card: dict[str, Any],
        ack_required: bool,
        send_at: datetime,
        now: datetime,
        recipients: Iterable[tuple[str, dict[str, Any]]],
        notification_id: str | None = None,
    ) -> tuple[Notification, bool]:
        """Create a notification and its queued deliveries in one transaction.

        The same (sender, idempotency key) returns the existing notification and ``created=False``: nothing is
        queued again. Concurrent identical requests all get the one notification: the insert that loses the race
        does nothing (``ON CONFLICT DO NOTHING`` waits for the winner's commit on PostgreSQL) and reads the winner's.
        """
        async with self._db.transaction() as tx:
            existing = await self._by_key(tx, sender, idempotency_key)
            if existing is not None:
                return existing, False
            notification_id = notification_id or uuid.uuid4().hex
            inserted = await tx.execute(
                "INSERT INTO notifications (id, tenant_id, sender, idempotency_key, card, ack_required, send_at, "
                "status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8) "
                "ON CONFLICT (sender, idempotency_key) DO NOTHING",
                notification_id,
                tenant_id,
                sender,
                idempotency_key,
                json.dumps(card, separators=(",", ":")),
                1 if ack_required else 0,
                to_db_time(send_at),
                to_db_time(now),
            )
            if not inserted:
                winner = await self._by_key(tx, sender, idempotency_key)
                if winner is None:
                    raise StorageError("an idempotent insert lost its race but the winner's row is not visible")
                return winner, False
            await self._insert_deliveries(
                tx, notification_id, tenant_id, send_at=send_at, now=now, recipients=recipients
            )
            row = await tx.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
            assert row is not None
            return _notification(row), True

    @staticmethod
    async def _by_key(db: Database, sender: str, idempotency_key: str) -> Notification | None:
        row = await db.fetchrow(
            "SELECT * FROM notifications WHERE sender = $1 AND idempotency_key = $2", sender, idempotency_key
        )
        return _notification(row) if row is not None else None

    async def add_recipients(
        self,
        notification_id: str,
        tenant_id: str,
        recipients: Iterable[tuple[str, dict[str, Any]]],
        *,
        send_at: datetime,
        now: datetime,
    ) -> int:
        """Queue more recipients (e.g. a streamed team roster); duplicates of a key are ignored."""
        async with self._db.transaction() as tx:
            return await self._insert_deliveries(
                tx, notification_id, tenant_id, send_at=send_at, now=now, recipients=recipients
            )

    async def _insert_deliveries(
        self,
        tx: Database,
        notification_id: str,
        tenant_id: str,
        *,
        send_at: datetime,
        now: datetime,
        recipients: Iterable[tuple[str, dict[str, Any]]],
    ) -> int:
        """Insert in chunks with one round trip each; returns how many were new (duplicates are ignored)."""
        count = "SELECT COUNT(*) FROM deliveries WHERE notification_id = $1"
        before = int(await tx.fetchval(count, notification_id) or 0)
        due, stamp = to_db_time(send_at), to_db_time(now)
        chunk: list[tuple[Any, ...]] = []

        async def flush() -> None:
            await tx.executemany(
                "INSERT INTO deliveries (notification_id, recipient_key, recipient, tenant_id, state, "
                "next_attempt_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6) "
                "ON CONFLICT (notification_id, recipient_key) DO NOTHING",
                chunk,
            )
            chunk.clear()

        for key, recipient in recipients:
            chunk.append(
                (
                    notification_id,
                    key,
                    json.dumps(recipient, separators=(",", ":"), sort_keys=True),
                    tenant_id,
                    due,
                    stamp,
                )
            )
            if len(chunk) >= 1000:
                await flush()
        if chunk:
            await flush()
        after = int(await tx.fetchval(count, notification_id) or 0)
        if after <= SMALL_NOTIFICATION:  # a small notice waits in the priority lane, ahead of any broadcast
            await tx.execute("UPDATE deliveries SET lane = 0 WHERE notification_id = $1", notification_id)
        return after - before

    async def expand_page(
        self,
        group: Delivery,
        members: Sequence[tuple[str, dict[str, Any]]],
        *,
        cursor: str | None,
        now: datetime,
        send_at: datetime,
        lease: timedelta,
    ) -> bool:
        """Queue one page of a team's or group's members and remember where the roster continues, atomically.

        False when this worker no longer holds the group's claim (nothing is stored then)."""
        async with self._db.transaction() as tx:
            held = await tx.execute(
                "UPDATE deliveries SET cursor = $4, claimed_until = $5, updated_at = $6 "
                "WHERE notification_id = $1 AND recipient_key = $2 AND claim_token = $3 AND state = 'claimed'",
                group.notification_id,
                group.recipient_key,
                group.claim_token,
                cursor,
                to_db_time(now + lease),
                to_db_time(now),
            )
            if held != 1:
                return False
            await self._insert_deliveries(
                tx, group.notification_id, group.tenant_id, send_at=send_at, now=now, recipients=members
            )
            return True

    async def last_nudge(self, notification_id: str) -> datetime | None:
        value = await self._db.fetchval(
            "SELECT MAX(created_at) FROM notifications WHERE parent_id = $1 AND status <> 'cancelled'",
            notification_id,
        )
        return from_db_time(value) if value else None

    async def create_nudge(
        self, parent: Notification, *, card: dict[str, Any], now: datetime, nudge_id: str | None = None
    ) -> tuple[Notification, int]:
        """A nudge of ``parent`` to everyone it reached who has not acknowledged, copied inside the database (no
        recipient list in memory, however large); returns the nudge and how many it will reach."""
        nudge_id = nudge_id or uuid.uuid4().hex
        stamp = to_db_time(now)
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO notifications (id, tenant_id, sender, idempotency_key, card, ack_required, send_at, "
                "status, created_at, parent_id) VALUES ($1, $2, $3, $4, $5, 1, $6, 'queued', $6, $7)",
                nudge_id,
                parent.tenant_id,
                parent.sender,
                f"nudge:{parent.id}:{nudge_id}",
                json.dumps(card, separators=(",", ":")),
                stamp,
                parent.id,
            )
            count = await tx.execute(
                "INSERT INTO deliveries (notification_id, recipient_key, recipient, tenant_id, state, "
                "next_attempt_at, updated_at) SELECT $1, recipient_key, recipient, tenant_id, 'queued', $2, $2 "
                "FROM deliveries WHERE notification_id = $3 AND state = 'sent' AND acked_at IS NULL",
                nudge_id,
                stamp,
                parent.id,
            )
            row = await tx.fetchrow("SELECT * FROM notifications WHERE id = $1", nudge_id)
            assert row is not None
            return _notification(row), count

    async def get_notification(self, notification_id: str) -> Notification | None:
        row = await self._db.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
        return _notification(row) if row else None

    # -- the worker's side ------------------------------------------------------------------------------
    async def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        owner: str | None = None,
        only_tenants: Collection[str] = (),
        lane: int | None = None,
    ) -> list[Delivery]:
        """Atomically take up to ``limit`` due deliveries for this worker (``owner``: its engine id), the priority
        lane first; only those of ``only_tenants`` and of ``lane`` when given."""
        token = uuid.uuid4().hex
        lock = " FOR UPDATE SKIP LOCKED" if self._db.dialect == "postgresql" else ""
        args: list[Any] = [token, to_db_time(now + lease), to_db_time(now), limit, owner]
        where = ""
        if only_tenants:
            marks = ", ".join(f"${len(args) + 1 + i}" for i in range(len(only_tenants)))
            where += f" AND tenant_id IN ({marks})"
            args.extend(sorted(only_tenants))
        if lane is not None:
            args.append(lane)
            where += f" AND lane = ${len(args)}"
        async with self._db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE deliveries SET state = 'claimed', claim_token = $1, claimed_until = $2, updated_at = $3, "
                "claimed_by = $5 WHERE (notification_id, recipient_key) IN ("
                "  SELECT notification_id, recipient_key FROM deliveries"
                f"  WHERE state = 'queued' AND next_attempt_at <= $3{where}"
                f"  ORDER BY lane, next_attempt_at LIMIT $4{lock}"
                ") RETURNING *",
                *args,
            )
        return [_delivery(r) for r in rows]

    async def queued_tenants(self, limit: int = 1000) -> list[str]:
        """The tenants with queued deliveries, one index seek each (a loose index scan over
        ``deliveries_due_by_tenant``), so a broadcast's 100,000 queued rows cost one seek, not a scan."""
        tenants: list[str] = []
        after = ""
        while len(tenants) < limit:
            tenant = await self._db.fetchval(
                "SELECT tenant_id FROM deliveries WHERE state = 'queued' AND tenant_id > $1 ORDER BY tenant_id LIMIT 1",
                after,
            )
            if tenant is None:
                return tenants
            tenants.append(str(tenant))
            after = str(tenant)
        return tenants

    async def mark_sending(self, delivery: Delivery, now: datetime) -> bool:
        """The point of no return: only the claim's holder may, and only once."""
        allowed = await self.mark_sending_many([delivery], now)
        return (delivery.notification_id, delivery.recipient_key) in allowed

    async def mark_sending_many(self, deliveries: Sequence[Delivery], now: datetime) -> set[tuple[str, str]]:
        """:meth:`mark_sending` for many deliveries in one statement per claim; returns the (notification,
        recipient key) pairs this worker may now send."""
        groups: dict[tuple[str, str | None], list[str]] = {}
        for delivery in deliveries:
            groups.setdefault((delivery.notification_id, delivery.claim_token), []).append(delivery.recipient_key)
        allowed: set[tuple[str, str]] = set()
        for (notification_id, token), keys in groups.items():
            if token is None:
                continue
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ", ".join(f"${n}" for n in range(4, len(chunk) + 4))
                rows = await self._db.fetch(
                    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = $3 "
                    "WHERE notification_id = $1 AND claim_token = $2 AND state = 'claimed' "
                    f"AND recipient_key IN ({marks}) RETURNING recipient_key",
                    notification_id,
                    token,
                    to_db_time(now),
                    *chunk,
                )
                allowed.update((notification_id, row["recipient_key"]) for row in rows)
        return allowed

    async def mark_sent_many(self, sent: Sequence[tuple[Delivery, str, str | None]], now: datetime) -> None:
        """:meth:`mark_sent` for many (delivery, conversation id, activity id) in one round trip."""
        stamp = to_db_time(now)
        await self._db.executemany(
            "UPDATE deliveries SET state = 'sent', updated_at = $4, sent_at = $4, claim_token = NULL, "
            "claimed_until = NULL, reason = NULL, conversation_id = $5, activity_id = $6 "
            "WHERE notification_id = $1 AND recipient_key = $2 AND claim_token = $3 AND state = 'sending'",
            [
                (d.notification_id, d.recipient_key, d.claim_token, stamp, conversation_id, activity_id)
                for d, conversation_id, activity_id in sent
            ],
        )

    async def _finish(
        self,
        delivery: Delivery,
        state: DeliveryState,
        now: datetime,
        *,
        from_states: Sequence[str],
        count_attempt: bool = False,
        **fields: Any,
    ) -> bool:
        sets = ["state = $4", "updated_at = $5", "claim_token = NULL", "claimed_until = NULL"]
        if count_attempt:  # a request that failed before the "sending" mark (which counts the others) still counts
            sets.append("attempts = CASE WHEN state = 'claimed' THEN attempts + 1 ELSE attempts END")
        args: list[Any] = [
            delivery.notification_id,
            delivery.recipient_key,
            delivery.claim_token,
            state.value,
            to_db_time(now),
        ]
        for name, value in fields.items():
            args.append(value)
            sets.append(f"{name} = ${len(args)}")
        states = ", ".join(f"'{s}'" for s in from_states)
        changed = await self._db.execute(
            f"UPDATE deliveries SET {', '.join(sets)} "
            f"WHERE notification_id = $1 AND recipient_key = $2 AND claim_token = $3 AND state IN ({states})",
            *args,
        )
        return changed == 1

    async def mark_sent(
        self, delivery: Delivery, now: datetime, *, conversation_id: str, activity_id: str | None
    ) -> bool:
        return await self._finish(
            delivery,
            DeliveryState.SENT,
            now,
            from_states=("sending",),
            conversation_id=conversation_id,
            activity_id=activity_id,
            sent_at=to_db_time(now),
            reason=None,
        )

    async def mark_retry(self, delivery: Delivery, now: datetime, *, at: datetime, reason: str) -> bool:
        """Back to the queue: only for failures where nothing was delivered (429, 412, 502, 504, no connection).
        Each retry is an attempt, a failed conversation creation (before any send) included."""
        return await self._finish(
            delivery,
            DeliveryState.QUEUED,
            now,
            from_states=("sending", "claimed"),
            count_attempt=True,
            next_attempt_at=to_db_time(at),
            reason=reason,
        )

    async def mark_final(self, delivery: Delivery, state: DeliveryState, now: datetime, *, reason: str) -> bool:
        if state not in FINAL_STATES:
            raise ValueError(f"{state} is not a final state")
        return await self._finish(delivery, state, now, from_states=("sending", "claimed"), reason=reason)

    async def recover(self, now: datetime) -> tuple[int, int]:
        """After a crash: expired claims go back to the queue; expired sends become maybe_delivered."""
        stamp = to_db_time(now)
        requeued = await self._db.execute(
            "UPDATE deliveries SET state = 'queued', claim_token = NULL, claimed_until = NULL, updated_at = $1 "
            "WHERE state = 'claimed' AND claimed_until < $1",
            stamp,
        )
        maybe = await self._db.execute(
            "UPDATE deliveries SET state = 'maybe_delivered', reason = 'interrupted_while_sending', "
            "claim_token = NULL, claimed_until = NULL, updated_at = $1 WHERE state = 'sending' AND claimed_until < $1",
            stamp,
        )
        return requeued, maybe

    async def release_orphans(self, now: datetime, *, alive_since: datetime) -> tuple[int, int]:
        """Claims of engines whose heartbeat stopped before ``alive_since`` (killed, frozen): claimed rows go back to
        the queue, sending ones become maybe_delivered, long before their lease would expire."""
        stamp, cutoff = to_db_time(now), to_db_time(alive_since)
        gone = (
            "claimed_by IS NOT NULL AND claimed_by NOT IN "
            "(SELECT engine_id FROM outreach_engines WHERE heartbeat >= $2)"
        )
        requeued = await self._db.execute(
            "UPDATE deliveries SET state = 'queued', claim_token = NULL, claimed_until = NULL, claimed_by = NULL, "
            f"updated_at = $1 WHERE state = 'claimed' AND {gone}",
            stamp,
            cutoff,
        )
        maybe = await self._db.execute(
            "UPDATE deliveries SET state = 'maybe_delivered', reason = 'interrupted_while_sending', "
            "claim_token = NULL, claimed_until = NULL, claimed_by = NULL, "
            f"updated_at = $1 WHERE state = 'sending' AND {gone}",
            stamp,
            cutoff,
        )
        return requeued, maybe

    async def cancel(self, notification_id: str, now: datetime) -> int:
        async with self._db.transaction() as tx:
            cancelled = await tx.execute(
                "UPDATE deliveries SET state = 'cancelled', reason = 'cancelled', updated_at = $2 "
                "WHERE notification_id = $1 AND state = 'queued'",
                notification_id,
                to_db_time(now),
            )
            await tx.execute("UPDATE notifications SET status = 'cancelled' WHERE id = $1", notification_id)
            return cancelled

    # -- reporting and acknowledgements -----------------------------------------------------------------
    async def totals(self, notification_id: str) -> dict[str, int]:
        rows = await self._db.fetch(
            "SELECT state, COALESCE(reason, '') AS reason, COUNT(*) AS n FROM deliveries "
            "WHERE notification_id = $1 GROUP BY state, COALESCE(reason, '')",
            notification_id,
        )
        totals: dict[str, int] = {}
        for row in rows:
            totals[row["state"]] = totals.get(row["state"], 0) + int(row["n"])
            if row["state"] == DeliveryState.FAILED.value and row["reason"]:
                key = f"failed:{row['reason']}"
                totals[key] = totals.get(key, 0) + int(row["n"])
        acked = await self._db.fetchval(
            "SELECT COUNT(*) FROM acknowledgements WHERE notification_id = $1", notification_id
        )
        totals["acknowledged"] = int(acked or 0)
        return totals

    async def acknowledge(
        self, notification_id: str, user_id: str, now: datetime, *, conversation_id: str | None = None
    ) -> bool:
        """Record ``user_id``'s acknowledgement once; True the first time.

        The delivery it answers (the user's own, or the one sent to the conversation the click came from) is
        marked acknowledged as well, so a nudge passes it by."""
        user = user_id.lower()
        stamp = to_db_time(now)
        async with self._db.transaction() as tx:
            first = await tx.execute(
                "INSERT INTO acknowledgements (notification_id, user_id, conversation_id, acked_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (notification_id, user_id) DO NOTHING",
                notification_id,
                user,
                conversation_id,
                stamp,
            )
            await tx.execute(
                "UPDATE deliveries SET acked_at = $4, updated_at = $4 "
                "WHERE notification_id = $1 AND acked_at IS NULL AND state = 'sent' "
                "AND (recipient_key = $2 OR conversation_id = $3)",
                notification_id,
                f"user:{user}",
                conversation_id or "",
                stamp,
            )
        return first == 1

    async def page(self, notification_id: str, *, state: str | None, after: str, limit: int) -> list[Delivery]:
        """Recipients in key order after ``after`` (a cursor), optionally of one state."""
        args: list[Any] = [notification_id, after, limit]
        condition = ""
        if state:
            args.append(state)
            condition = " AND state = $4"
        rows = await self._db.fetch(
            "SELECT * FROM deliveries WHERE notification_id = $1 AND recipient_key > $2"
            f"{condition} ORDER BY recipient_key LIMIT $3",
            *args,
        )
        return [_delivery(r) for r in rows]

    async def timing(self, notification_id: str) -> tuple[datetime | None, datetime | None]:
        """When the first and the last card of a notification went out."""
        row = await self._db.fetchrow(
            "SELECT MIN(sent_at) AS first, MAX(sent_at) AS last FROM deliveries WHERE notification_id = $1",
            notification_id,
        )
        if row is None or row["first"] is None:
            return None, None
        return from_db_time(row["first"]), from_db_time(row["last"])


class EngineRegistry:
    """Live outreach engines (replicas) and the 429 pauses they share; see :mod:`bot.platform.messaging.replicas`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def heartbeat(self, engine_id: str, now: datetime, *, expiry: timedelta) -> tuple[int, dict[str, datetime]]:
        """Record this engine as alive; return how many engines are, and the tenants paused until when."""
        stamp = to_db_time(now)
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO outreach_engines (engine_id, heartbeat) VALUES ($1, $2) "
                "ON CONFLICT (engine_id) DO UPDATE SET heartbeat = excluded.heartbeat",
                engine_id,
                stamp,
            )
            live = int(
                await tx.fetchval(
                    "SELECT COUNT(*) FROM outreach_engines WHERE heartbeat >= $1", to_db_time(now - expiry)
                )
                or 1
            )
            await tx.execute("DELETE FROM outreach_engines WHERE heartbeat < $1", to_db_time(now - 6 * expiry))
            rows = await tx.fetch("SELECT tenant_id, paused_until FROM outreach_pauses WHERE paused_until > $1", stamp)
        return max(1, live), {row["tenant_id"]: from_db_time(row["paused_until"]) for row in rows}

    async def share_pause(self, tenant_id: str, until: datetime) -> None:
        await self._db.execute(
            "INSERT INTO outreach_pauses (tenant_id, paused_until) VALUES ($1, $2) "
            "ON CONFLICT (tenant_id) DO UPDATE SET paused_until = excluded.paused_until "
            "WHERE outreach_pauses.paused_until < excluded.paused_until",
            tenant_id,
            to_db_time(until),
        )

    async def withdraw(self, engine_id: str) -> None:
        await self._db.execute("DELETE FROM outreach_engines WHERE engine_id = $1", engine_id)
