"""The outreach ledger: notifications and one delivery row per (notification, recipient).

Exactly-once rests on three rules kept here:
1. a delivery is *claimed* atomically by one worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
   writer), with a lease;
2. it is marked *sending* (committed) before the request leaves, only by the claim's holder;
3. an expired *claimed* lease goes back to the queue (nothing left), an expired *sending* one becomes
   ``maybe_delivered`` (something may have left) and is never resent blindly: the engine reconciles it (reads
   the chat through Graph for the copy's marker) and only then marks it sent or queues it again (see
   :mod:`bot.platform.messaging.reconcile`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.platform.messaging.counts import NotificationCounts
from bot.platform.storage.base import Database, Row, StorageError
from bot.platform.storage.times import from_db_time, to_db_time
from bot.platform.telemetry import trace_parent


def _key_chunks(keys: list[str], *, first: int) -> Iterator[tuple[list[str], str]]:
    """Recipient keys 500 at a time, each chunk with its placeholders (``$first, $first+1, ...``) for an IN list."""
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        yield chunk, ", ".join(f"${n}" for n in range(first, first + len(chunk)))


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
GROUP_KINDS = ("team", "groupId", "everyone")
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
    local_time: str | None = None  # "2026-12-07T09:00": sent at that wall-clock time in each recipient's zone
    important: bool = False  # also sent to each recipient's Teams activity feed
    revision: int = 1  # the current content's number (1 = the original); see OperationLedger
    recalled_at: datetime | None = None


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
    revision: int = 1  # the content revision this copy was (or is being) sent with

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
        local_time=row.get("local_time"),
        important=bool(row.get("important") or 0),
        revision=int(row.get("revision") or 1),
        recalled_at=from_db_time(row["recalled_at"]) if row.get("recalled_at") else None,
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
        revision=int(row.get("revision") or 1),
    )


delivery_from_row = _delivery  # for the other stores over the deliveries table (engagement)


class OutreachLedger:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.engines = EngineRegistry(db)
        self.operations = OperationLedger(db)

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
        due: Mapping[str, datetime] | None = None,
        local_time: str | None = None,
        important: bool = False,
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
                "status, created_at, trace_parent) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9) "
                "ON CONFLICT (sender, idempotency_key) DO NOTHING",
                notification_id,
                tenant_id,
                sender,
                idempotency_key,
                json.dumps(card, separators=(",", ":")),
                1 if ack_required else 0,
                to_db_time(send_at),
                to_db_time(now),
                trace_parent(),  # the span that queued it (a turn's handler, an API request): deliveries join it
            )
            if not inserted:
                winner = await self._by_key(tx, sender, idempotency_key)
                if winner is None:
                    raise StorageError("an idempotent insert lost its race but the winner's row is not visible")
                return winner, False
            await self._set_audience(tx, notification_id, local_time=local_time, important=important)
            await self._insert_deliveries(
                tx, notification_id, tenant_id, send_at=send_at, now=now, recipients=recipients, due=due
            )
            row = await tx.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
            assert row is not None
            return _notification(row), True

    @staticmethod
    async def _set_audience(tx: Database, notification_id: str, *, local_time: str | None, important: bool) -> None:
        """A local-time notification's wall-clock time, and whether it also goes to the activity feed."""
        if local_time is not None or important:
            await tx.execute(
                "UPDATE notifications SET local_time = $2, important = $3 WHERE id = $1",
                notification_id,
                local_time,
                1 if important else 0,
            )

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
        due: Mapping[str, datetime] | None = None,
    ) -> int:
        """Insert in chunks with one round trip each; returns how many were new (duplicates are ignored).
        ``due`` gives some recipients (by key) their own due time instead of ``send_at``."""
        count = "SELECT COUNT(*) FROM deliveries WHERE notification_id = $1"
        before = int(await tx.fetchval(count, notification_id) or 0)
        default_due, stamp = to_db_time(send_at), to_db_time(now)
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
                    to_db_time(due[key]) if due and key in due else default_due,
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
        due: Mapping[str, datetime] | None = None,
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
                tx, group.notification_id, group.tenant_id, send_at=send_at, now=now, recipients=members, due=due
            )
            return True

    async def last_nudge(self, notification_id: str) -> datetime | None:
        value = await self._db.fetchval(
            "SELECT MAX(created_at) FROM notifications WHERE parent_id = $1 AND status <> 'cancelled'",
            notification_id,
        )
        return from_db_time(value) if value else None

    async def nudges(self, notification_id: str) -> list[Notification]:
        """The nudges of a notification that were not recalled (an edit or recall of it follows into them)."""
        rows = await self._db.fetch(
            "SELECT * FROM notifications WHERE parent_id = $1 AND recalled_at IS NULL AND status <> 'cancelled' "
            "ORDER BY created_at",
            notification_id,
        )
        return [_notification(r) for r in rows]

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

    async def notifications_starting(self, prefix: str, *, limit: int = 2) -> list[Notification]:
        """Notifications whose id starts with ``prefix`` (letters and digits only; a short id people type)."""
        if not prefix.isalnum():
            return []
        rows = await self._db.fetch(
            "SELECT * FROM notifications WHERE id LIKE $1 ORDER BY id LIMIT $2", prefix.lower() + "%", limit
        )
        return [_notification(row) for row in rows]

    async def recent_notifications(self, sender: str, *, limit: int = 5) -> list[Notification]:
        """A sender's latest notifications, newest first (nudges included)."""
        rows = await self._db.fetch(
            "SELECT * FROM notifications WHERE sender = $1 ORDER BY created_at DESC, id LIMIT $2", sender, limit
        )
        return [_notification(row) for row in rows]

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
                "claimed_by = $5, revision = (SELECT n.revision FROM notifications n WHERE n.id = notification_id) "
                "WHERE (notification_id, recipient_key) IN ("
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
            for chunk, marks in _key_chunks(keys, first=4):
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

    async def release(self, delivery: Delivery, now: datetime, *, request_left: bool = True) -> bool:
        """Give back a claim its holder could not finish (storage failed half-way), as lease recovery would, without
        waiting for the lease: a claimed row goes back to the queue, a sending one becomes maybe_delivered, unless
        the holder knows its request never left (then it is queued again too)."""
        requeue_from = ("claimed",) if request_left else ("claimed", "sending")
        if await self._finish(delivery, DeliveryState.QUEUED, now, from_states=requeue_from, claimed_by=None):
            return True
        return await self._finish(
            delivery,
            DeliveryState.MAYBE_DELIVERED,
            now,
            from_states=("sending",),
            claimed_by=None,
            reason="interrupted_while_sending",
        )

    async def interrupted(self, *, since: datetime, before: datetime, limit: int = 500) -> list[Delivery]:
        """Deliveries a crash caught while sending (maybe_delivered, interrupted_while_sending), recorded so between
        ``since`` and ``before``: the ones to reconcile."""
        rows = await self._db.fetch(
            "SELECT * FROM deliveries WHERE state = 'maybe_delivered' AND reason = 'interrupted_while_sending' "
            "AND updated_at >= $1 AND updated_at < $2 ORDER BY updated_at LIMIT $3",
            to_db_time(since),
            to_db_time(before),
            limit,
        )
        return [_delivery(r) for r in rows]

    async def reconcile(
        self, delivery: Delivery, now: datetime, *, conversation_id: str, activity_id: str | None
    ) -> bool:
        """An interrupted send whose copy was found in the chat: sent, with the message's id (False when another
        worker reconciled it first)."""
        changed = await self._db.execute(
            "UPDATE deliveries SET state = 'sent', reason = NULL, updated_at = $3, sent_at = $3, "
            "conversation_id = $4, activity_id = $5 WHERE notification_id = $1 AND recipient_key = $2 "
            "AND state = 'maybe_delivered' AND reason = 'interrupted_while_sending'",
            delivery.notification_id,
            delivery.recipient_key,
            to_db_time(now),
            conversation_id,
            activity_id,
        )
        return changed == 1

    async def requeue_interrupted(self, delivery: Delivery, now: datetime) -> bool:
        """An interrupted send whose copy is not in the chat once it can no longer be in flight: queued again, due
        now (False when another worker reconciled it first)."""
        changed = await self._db.execute(
            "UPDATE deliveries SET state = 'queued', reason = 'resent_after_interruption', updated_at = $3, "
            "next_attempt_at = $3, claimed_by = NULL WHERE notification_id = $1 AND recipient_key = $2 "
            "AND state = 'maybe_delivered' AND reason = 'interrupted_while_sending'",
            delivery.notification_id,
            delivery.recipient_key,
            to_db_time(now),
        )
        return changed == 1

    async def held_by(self, owner: str) -> list[Delivery]:
        """The deliveries an engine holds (claimed or sending)."""
        rows = await self._db.fetch(
            "SELECT * FROM deliveries WHERE state IN ('claimed', 'sending') AND claimed_by = $1", owner
        )
        return [_delivery(r) for r in rows]

    async def trace_parent(self, notification_id: str) -> str | None:
        """The traceparent stored with a notification (None without one)."""
        value = await self._db.fetchval("SELECT trace_parent FROM notifications WHERE id = $1", notification_id)
        return str(value) if value else None

    async def queue(self, now: datetime) -> tuple[int, float]:
        """Deliveries queued and due now, and how long the oldest of them has been due (seconds)."""
        row = await self._db.fetchrow(
            "SELECT COUNT(*) AS n, MIN(next_attempt_at) AS oldest FROM deliveries "
            "WHERE state = 'queued' AND next_attempt_at <= $1",
            to_db_time(now),
        )
        if row is None or not row["n"]:
            return 0, 0.0
        return int(row["n"]), max(0.0, (now - from_db_time(row["oldest"])).total_seconds())

    async def mark_final(self, delivery: Delivery, state: DeliveryState, now: datetime, *, reason: str) -> bool:
        if state not in FINAL_STATES:
            raise ValueError(f"{state} is not a final state")
        return await self._finish(delivery, state, now, from_states=("sending", "claimed"), reason=reason)

    async def recover(self, now: datetime) -> tuple[int, int]:
        """After a crash: expired claims go back to the queue; expired sends become maybe_delivered (and the same for
        edit and recall operations: see :class:`OperationLedger`). Returns the totals of both."""
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
        op_requeued, op_maybe = await self.operations.recover(now)
        return requeued + op_requeued, maybe + op_maybe

    async def release_orphans(self, now: datetime, *, alive_since: datetime) -> tuple[int, int]:
        """Claims of engines whose heartbeat stopped before ``alive_since`` (killed, frozen): claimed rows go back to
        the queue, sending ones become maybe_delivered, long before their lease would expire (operations alike)."""
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
        op_requeued, op_maybe = await self.operations.release_orphans(now, alive_since=alive_since)
        return requeued + op_requeued, maybe + op_maybe

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
        """Deliveries by state (and failures by reason) and acknowledgements, from the maintained counts."""
        totals: dict[str, int] = {}
        for (state, reason), n in (await NotificationCounts(self._db).read(notification_id)).items():
            if state.startswith("@"):
                continue
            totals[state] = totals.get(state, 0) + n
            if state == DeliveryState.FAILED.value and reason:
                totals[f"failed:{reason}"] = totals.get(f"failed:{reason}", 0) + n
        totals["acknowledged"] = int(
            await self._db.fetchval(
                "SELECT COALESCE(SUM(n), 0) FROM (SELECT n FROM notification_counts WHERE notification_id = $1 AND "
                "state = '@acknowledged' UNION ALL SELECT n FROM notification_count_changes WHERE notification_id = $1 "
                "AND state = '@acknowledged') AS acks",
                notification_id,
            )
            or 0
        )
        return totals

    async def waiting_for_local_time(self, notification_id: str, now: datetime) -> int:
        """Recipients of a local-time notification whose morning has not come yet: queued for later, never tried
        (retries and not yet expanded teams, groups and "everyone" are not counted)."""
        value = await self._db.fetchval(
            "SELECT COUNT(*) FROM deliveries WHERE notification_id = $1 AND state = 'queued' AND attempts = 0 "
            "AND reason IS NULL AND next_attempt_at > $2 AND recipient_key NOT LIKE 'team:%' "
            "AND recipient_key NOT LIKE 'group:%' AND recipient_key <> 'everyone'",
            notification_id,
            to_db_time(now),
        )
        return int(value or 0)

    async def mark_feed(self, delivery: Delivery, outcome: str, now: datetime) -> None:
        """How the activity-feed notification of a sent delivery went: ``sent`` or ``failed:<reason>``."""
        await self._db.execute(
            "UPDATE deliveries SET feed = $3, updated_at = $4 WHERE notification_id = $1 AND recipient_key = $2",
            delivery.notification_id,
            delivery.recipient_key,
            outcome,
            to_db_time(now),
        )

    async def feed_totals(self, notification_id: str) -> dict[str, int]:
        """Activity-feed notifications by outcome (``sent``, ``failed:<reason>``)."""
        rows = await self._db.fetch(
            "SELECT feed, COUNT(*) AS n FROM deliveries WHERE notification_id = $1 AND feed IS NOT NULL GROUP BY feed",
            notification_id,
        )
        return {row["feed"]: int(row["n"]) for row in rows}

    async def is_recipient(self, notification_id: str, user_id: str, *, conversation_id: str | None = None) -> bool:
        """Whether ``user_id`` was sent ``notification_id``: their own delivery (by Entra id, or a team's or group's
        member), or a delivery to the conversation the click came from (a chat, a channel's post; Teams names the
        conversation, so only its members click from there), by the conversation it was sent to or the one asked for.
        """
        sql = "SELECT 1 FROM deliveries WHERE notification_id = $1 AND (recipient_key = $2"
        args = [notification_id, f"user:{user_id.lower()}"]
        if conversation_id:
            sql += " OR recipient_key = $3 OR conversation_id = $4"
            args += [f"conversation:{conversation_id}", conversation_id]
        return await self._db.fetchval(sql + ") LIMIT 1", *args) is not None

    async def fold_counts(self) -> int:
        """Fold every notification's pending count changes (the engine does, every few seconds)."""
        return await NotificationCounts(self._db).fold()

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

    async def listing(
        self, *, sender: str | None, before: tuple[datetime, str] | None, limit: int
    ) -> list[Notification]:
        """Notifications newest first (nudges left out): ``sender``'s, or everyone's when None; strictly older
        than ``before`` (created at, id), the cursor of the previous page."""
        conditions = ["parent_id IS NULL"]
        args: list[Any] = []
        if sender is not None:
            args.append(sender)
            conditions.append(f"sender = ${len(args)}")
        if before is not None:
            args.extend([to_db_time(before[0]), before[1]])
            n = len(args)
            conditions.append(f"(created_at < ${n - 1} OR (created_at = ${n - 1} AND id < ${n}))")
        args.append(limit)
        rows = await self._db.fetch(
            f"SELECT * FROM notifications WHERE {' AND '.join(conditions)} "
            f"ORDER BY created_at DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
        return [_notification(r) for r in rows]

    async def counts(self, notification_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Deliveries by state for each notification (those with none are absent)."""
        if not notification_ids:
            return {}
        marks = ", ".join(f"${n}" for n in range(1, len(notification_ids) + 1))
        rows = await self._db.fetch(
            f"SELECT notification_id, state, COUNT(*) AS n FROM deliveries WHERE notification_id IN ({marks}) "
            "GROUP BY notification_id, state",
            *notification_ids,
        )
        found: dict[str, dict[str, int]] = {}
        for row in rows:
            found.setdefault(row["notification_id"], {})[row["state"]] = int(row["n"])
        return found

    async def timing(self, notification_id: str) -> tuple[datetime | None, datetime | None]:
        """When the first and the last card of a notification went out."""
        row = await self._db.fetchrow(  # each subquery one look-up in the (notification, sent_at) index
            "SELECT (SELECT MIN(sent_at) FROM deliveries WHERE notification_id = $1) AS first, "
            "(SELECT MAX(sent_at) FROM deliveries WHERE notification_id = $1) AS last",
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


# -- edits and recalls: operations on delivered copies -------------------------------------------------------


class OperationState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    APPLYING = "applying"  # committed right before the request leaves
    DONE = "done"  # reason: updated | recalled | current (the copy was sent with this revision already)
    FAILED = "failed"  # reason: copy_deleted | conversation_gone | blocked | ...
    MAYBE_APPLIED = "maybe_applied"  # interrupted or answered 5xx after it left: never repeated automatically
    SUPERSEDED = "superseded"  # a later revision (or the recall) took over before this one started
    SKIPPED = "skipped"  # the copy never reached anyone (not installed, failed, cancelled)


class AlreadyRecalled(Exception):
    """An edit or a recall of a notification that was recalled: nothing changes."""


# Deliveries whose copy exists or may still come to exist: an operation follows each of them.
_LIVE_COPIES = "('queued', 'claimed', 'sending', 'sent')"
_NOT_GROUPS = "recipient_key NOT LIKE 'team:%' AND recipient_key NOT LIKE 'group:%'"


@dataclass(frozen=True, slots=True)
class Revision:
    number: int
    kind: str  # original | edit | recall
    mode: str | None  # a recall's: delete | replace
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Operation:
    """One edit or recall of one copy: ``kind`` update (PUT the revision's card) or delete."""

    notification_id: str
    recipient_key: str
    revision: int
    kind: str
    tenant_id: str
    attempts: int
    claim_token: str | None
    conversation_id: str | None
    activity_id: str | None
    service_url: str | None
    copy_revision: int  # what the copy shows now
    acked_at: datetime | None
    recalled: bool  # this operation belongs to a recall

    @property
    def key(self) -> tuple[str, str, int]:
        return self.notification_id, self.recipient_key, self.revision


class OperationLedger:
    """Edits and recalls as rows next to the deliveries they change, with the sends' exactly-once rules: claimed
    with a lease (and the engine's id), marked *applying* before the request leaves, a lost claim applies nothing,
    an interrupted *applying* update becomes ``maybe_applied`` (never repeated); an interrupted delete is queued
    again, since Teams refuses a second delete of a message (404) and nothing changes twice."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _locked(self, tx: Database, notification_id: str) -> Row:
        lock = " FOR UPDATE" if self._db.dialect == "postgresql" else ""
        row = await tx.fetchrow(f"SELECT * FROM notifications WHERE id = $1{lock}", notification_id)
        if row is None:
            raise KeyError(notification_id)
        if row.get("recalled_at"):
            raise AlreadyRecalled(notification_id)
        return row

    async def _new_revision(
        self, tx: Database, row: Row, kind: str, *, mode: str | None, card: dict[str, Any] | None, now: datetime
    ) -> int:
        number = int(row.get("revision") or 1) + 1
        stamp = to_db_time(now)
        await tx.execute(
            "INSERT INTO notification_revisions (notification_id, revision, kind, mode, card, created_at) "
            "VALUES ($1, 1, 'original', NULL, $2, $3) ON CONFLICT (notification_id, revision) DO NOTHING",
            row["id"],
            row["card"],
            to_db_time(from_db_time(row["created_at"])),
        )
        await tx.execute(
            "INSERT INTO notification_revisions (notification_id, revision, kind, mode, card, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            row["id"],
            number,
            kind,
            mode,
            json.dumps(card, separators=(",", ":")) if card is not None else None,
            stamp,
        )
        # A later revision supersedes what an earlier one has not started yet: no stale content is sent.
        await tx.execute(
            "UPDATE delivery_operations SET state = 'superseded', reason = $2, claim_token = NULL, "
            "claimed_until = NULL, claimed_by = NULL, updated_at = $3 "
            "WHERE notification_id = $1 AND state IN ('queued', 'claimed')",
            row["id"],
            f"revision:{number}",
            stamp,
        )
        return number

    async def _follow_copies(
        self, tx: Database, notification_id: str, number: int, *, kind: str, states: str, now: datetime
    ) -> int:
        stamp = to_db_time(now)
        return await tx.execute(
            "INSERT INTO delivery_operations (notification_id, recipient_key, revision, kind, tenant_id, state, "
            "next_attempt_at, updated_at) SELECT notification_id, recipient_key, $2, $3, tenant_id, 'queued', $4, $4 "
            f"FROM deliveries WHERE notification_id = $1 AND state IN {states} AND {_NOT_GROUPS}",
            notification_id,
            number,
            kind,
            stamp,
        )

    async def revise(self, notification_id: str, card: dict[str, Any], now: datetime) -> int:
        """A new revision of the content: queued deliveries will be sent with it, and every copy that exists (or is
        on its way) gets an update. Returns the revision's number; AlreadyRecalled or KeyError otherwise."""
        async with self._db.transaction() as tx:
            row = await self._locked(tx, notification_id)
            number = await self._new_revision(tx, row, "edit", mode=None, card=card, now=now)
            await tx.execute(
                "UPDATE notifications SET card = $2, revision = $3 WHERE id = $1",
                notification_id,
                json.dumps(card, separators=(",", ":")),
                number,
            )
            # Queued and claimed deliveries get an operation too: if they are sent with an older revision after
            # all (a claim that read the content just before this commit), the operation brings them up to date;
            # if they are sent with this one, it finishes without a request.
            await self._follow_copies(tx, notification_id, number, kind="update", states=_LIVE_COPIES, now=now)
            return number

    async def recall(
        self, notification_id: str, *, mode: str, card: dict[str, Any] | None, now: datetime
    ) -> tuple[int, int, int]:
        """Withdraw: cancel what has not been sent (a claim not yet sending is taken back) and queue a delete (or,
        with ``mode="replace"``, an update to ``card``) of every copy. Returns (number, cancelled, copies)."""
        async with self._db.transaction() as tx:
            row = await self._locked(tx, notification_id)
            number = await self._new_revision(tx, row, "recall", mode=mode, card=card, now=now)
            stamp = to_db_time(now)
            await tx.execute(
                "UPDATE notifications SET recalled_at = $2, status = 'recalled' WHERE id = $1", notification_id, stamp
            )
            cancelled = await tx.execute(
                "UPDATE deliveries SET state = 'cancelled', reason = 'recalled', claim_token = NULL, "
                "claimed_until = NULL, claimed_by = NULL, updated_at = $2 "
                "WHERE notification_id = $1 AND state IN ('queued', 'claimed')",
                notification_id,
                stamp,
            )
            kind = "delete" if mode == "delete" else "update"
            copies = await self._follow_copies(
                tx, notification_id, number, kind=kind, states="('sending', 'sent')", now=now
            )
            return number, cancelled, copies

    async def revision_card(self, notification_id: str, number: int) -> dict[str, Any] | None:
        card = await self._db.fetchval(
            "SELECT card FROM notification_revisions WHERE notification_id = $1 AND revision = $2",
            notification_id,
            number,
        )
        return json.loads(card) if card else None

    async def revisions(self, notification_id: str) -> list[Revision]:
        rows = await self._db.fetch(
            "SELECT revision, kind, mode, created_at FROM notification_revisions WHERE notification_id = $1 "
            "ORDER BY revision",
            notification_id,
        )
        return [Revision(int(r["revision"]), r["kind"], r["mode"], from_db_time(r["created_at"])) for r in rows]

    async def progress(self, notification_id: str) -> dict[int, dict[str, int]]:
        """Per revision (or recall): its operations by state, failures and finishes by reason."""
        rows = await self._db.fetch(
            "SELECT revision, state, COALESCE(reason, '') AS reason, COUNT(*) AS n FROM delivery_operations "
            "WHERE notification_id = $1 GROUP BY revision, state, COALESCE(reason, '')",
            notification_id,
        )
        report: dict[int, dict[str, int]] = {}
        for row in rows:
            counts = report.setdefault(int(row["revision"]), {})
            state, reason, n = row["state"], row["reason"], int(row["n"])
            counts[state] = counts.get(state, 0) + n
            if reason and state in (OperationState.DONE, OperationState.FAILED, OperationState.MAYBE_APPLIED):
                counts[f"{state}:{reason}"] = counts.get(f"{state}:{reason}", 0) + n
        return report

    # -- the worker's side ------------------------------------------------------------------------------
    async def claim_due(
        self, now: datetime, *, limit: int, lease: timedelta, owner: str | None = None
    ) -> list[Operation]:
        """Take up to ``limit`` due operations whose copy exists (its delivery is *sent*), one per copy at a time."""
        token = uuid.uuid4().hex
        lock = " FOR UPDATE OF o SKIP LOCKED" if self._db.dialect == "postgresql" else ""
        async with self._db.transaction() as tx:
            claimed = await tx.execute(
                "UPDATE delivery_operations SET state = 'claimed', claim_token = $1, claimed_until = $2, "
                "updated_at = $3, claimed_by = $5 WHERE (notification_id, recipient_key, revision) IN ("
                "  SELECT o.notification_id, o.recipient_key, o.revision FROM delivery_operations o"
                "  JOIN deliveries d ON d.notification_id = o.notification_id AND d.recipient_key = o.recipient_key"
                "  WHERE o.state = 'queued' AND o.next_attempt_at <= $3 AND d.state = 'sent' AND NOT EXISTS ("
                "    SELECT 1 FROM delivery_operations p WHERE p.notification_id = o.notification_id"
                "    AND p.recipient_key = o.recipient_key AND p.state IN ('claimed', 'applying'))"
                f"  ORDER BY o.lane, o.next_attempt_at LIMIT $4{lock}"
                ")",
                token,
                to_db_time(now + lease),
                to_db_time(now),
                limit,
                owner,
            )
            if not claimed:
                return []
            rows = await tx.fetch(
                "SELECT o.notification_id, o.recipient_key, o.revision, o.kind, o.tenant_id, o.attempts, "
                "o.claim_token, d.conversation_id, d.activity_id, d.revision AS copy_revision, d.acked_at, "
                "c.service_url, r.kind AS revision_kind FROM delivery_operations o "
                "JOIN deliveries d ON d.notification_id = o.notification_id AND d.recipient_key = o.recipient_key "
                "JOIN notification_revisions r ON r.notification_id = o.notification_id AND r.revision = o.revision "
                "LEFT JOIN conversations c ON c.conversation_id = d.conversation_id "
                "WHERE o.claim_token = $1",
                token,
            )
        return [_operation(r) for r in rows]

    async def mark_applying_many(self, operations: Sequence[Operation], now: datetime) -> set[tuple[str, str, int]]:
        """The point of no return, for the claims' holder only; returns the operations this worker may apply."""
        groups: dict[tuple[str, int, str | None], list[str]] = {}
        for op in operations:
            groups.setdefault((op.notification_id, op.revision, op.claim_token), []).append(op.recipient_key)
        allowed: set[tuple[str, str, int]] = set()
        for (notification_id, number, token), keys in groups.items():
            if token is None:
                continue
            for chunk, marks in _key_chunks(keys, first=5):
                rows = await self._db.fetch(
                    "UPDATE delivery_operations SET state = 'applying', attempts = attempts + 1, updated_at = $4 "
                    "WHERE notification_id = $1 AND revision = $2 AND claim_token = $3 AND state = 'claimed' "
                    f"AND recipient_key IN ({marks}) RETURNING recipient_key",
                    notification_id,
                    number,
                    token,
                    to_db_time(now),
                    *chunk,
                )
                allowed.update((notification_id, row["recipient_key"], number) for row in rows)
        return allowed

    async def finish_many(self, finished: Sequence[tuple[Operation, str, str]], now: datetime) -> None:
        """(operation, final state, reason) for many in one transaction; a done update records the copy's new
        revision on its delivery (what the recipients listing shows)."""
        stamp = to_db_time(now)
        async with self._db.transaction() as tx:
            await tx.executemany(
                "UPDATE delivery_operations SET state = $5, reason = $6, updated_at = $7, claim_token = NULL, "
                "claimed_until = NULL WHERE notification_id = $1 AND recipient_key = $2 AND revision = $3 "
                "AND claim_token = $4 AND state IN ('claimed', 'applying')",
                [(o.notification_id, o.recipient_key, o.revision, o.claim_token, s, r, stamp) for o, s, r in finished],
            )
            done = [(op.notification_id, op.recipient_key, op.revision, stamp) for op, s, _ in finished if s == "done"]
            if done:
                await tx.executemany(
                    "UPDATE deliveries SET revision = $3, updated_at = $4 "
                    "WHERE notification_id = $1 AND recipient_key = $2 AND revision < $3",
                    done,
                )

    async def mark_retry(self, op: Operation, now: datetime, *, at: datetime, reason: str) -> bool:
        """Back to the queue: only when nothing was applied (429, 412, 502, 504, no connection)."""
        changed = await self._db.execute(
            "UPDATE delivery_operations SET state = 'queued', reason = $5, next_attempt_at = $6, updated_at = $7, "
            "claim_token = NULL, claimed_until = NULL, "
            "attempts = CASE WHEN state = 'claimed' THEN attempts + 1 ELSE attempts END "
            "WHERE notification_id = $1 AND recipient_key = $2 AND revision = $3 AND claim_token = $4 "
            "AND state IN ('claimed', 'applying')",
            op.notification_id,
            op.recipient_key,
            op.revision,
            op.claim_token,
            reason,
            to_db_time(at),
            to_db_time(now),
        )
        return changed == 1

    async def settle(self, now: datetime) -> int:
        """Operations whose copy never came to exist (the delivery failed, was cancelled, was not installed) are
        skipped; returns how many."""
        return await self._db.execute(
            "UPDATE delivery_operations SET state = 'skipped', reason = 'not_delivered', updated_at = $1 "
            "WHERE state = 'queued' AND EXISTS (SELECT 1 FROM deliveries d "
            "WHERE d.notification_id = delivery_operations.notification_id "
            "AND d.recipient_key = delivery_operations.recipient_key "
            "AND d.state NOT IN ('queued', 'claimed', 'sending', 'sent'))",
            to_db_time(now),
        )

    async def recover(self, now: datetime) -> tuple[int, int]:
        """Expired claims go back to the queue; expired *applying* ones become maybe_applied."""
        stamp = to_db_time(now)
        return await self._release(stamp, "claimed_until < $1", stamp)

    async def release_orphans(self, now: datetime, *, alive_since: datetime) -> tuple[int, int]:
        """The claims of engines whose heartbeat stopped before ``alive_since``, as for deliveries."""
        gone = (
            "claimed_by IS NOT NULL AND claimed_by NOT IN "
            "(SELECT engine_id FROM outreach_engines WHERE heartbeat >= $2)"
        )
        return await self._release(to_db_time(now), gone, to_db_time(alive_since))

    async def _release(self, stamp: str, condition: str, value: str) -> tuple[int, int]:
        args = [stamp, *([value] if "$2" in condition else [])]
        requeued = await self._db.execute(
            "UPDATE delivery_operations SET state = 'queued', claim_token = NULL, claimed_until = NULL, "
            f"claimed_by = NULL, updated_at = $1 WHERE state = 'claimed' AND {condition}",
            *args,
        )
        # An interrupted delete is safe to repeat: if the first one arrived, Teams refuses the second with a 404 and
        # nothing changes (see OperationApplier). An interrupted update is not repeated.
        requeued += await self._db.execute(
            "UPDATE delivery_operations SET state = 'queued', reason = 'interrupted_while_applying', "
            "claim_token = NULL, claimed_until = NULL, claimed_by = NULL, updated_at = $1 "
            f"WHERE state = 'applying' AND kind = 'delete' AND {condition}",
            *args,
        )
        maybe = await self._db.execute(
            "UPDATE delivery_operations SET state = 'maybe_applied', reason = 'interrupted_while_applying', "
            "claim_token = NULL, claimed_until = NULL, claimed_by = NULL, updated_at = $1 "
            f"WHERE state = 'applying' AND {condition}",
            *args,
        )
        return requeued, maybe


def _operation(row: Row) -> Operation:
    return Operation(
        notification_id=row["notification_id"],
        recipient_key=row["recipient_key"],
        revision=int(row["revision"]),
        kind=row["kind"],
        tenant_id=row["tenant_id"],
        attempts=int(row["attempts"]),
        claim_token=row["claim_token"],
        conversation_id=row["conversation_id"],
        activity_id=row["activity_id"],
        service_url=row["service_url"],
        copy_revision=int(row["copy_revision"] or 1),
        acked_at=from_db_time(row["acked_at"]) if row["acked_at"] else None,
        recalled=row["revision_kind"] == "recall",
    )
