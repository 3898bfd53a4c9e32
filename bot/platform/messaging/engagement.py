"""Engagement with delivered notifications, kept beside the ledger's deliveries: read, clicked, reacted to.

- Read: Teams' read receipt names the last message a user read in a personal chat; every delivery sent to that chat
  up to it becomes read (the first time only), with how long after the send it was read.
- Clicked: the first click of each (delivery, link) through Courier's signed redirect; ``clicked_at`` on the delivery
  is its first click on any link.
- Reactions: added and removed per (notification, reaction type), from ``messageReaction`` activities whose
  ``replyToId`` is a delivered copy's activity id.

The SQL of these columns and tables (migration 0060) lives here; features reach it through the outbox's ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.platform.messaging.counts import NotificationCounts, quantile_ms, read_bucket
from bot.platform.messaging.groupcommit import Batcher
from bot.platform.messaging.ledger import Delivery, delivery_from_row
from bot.platform.storage.base import Database, Row
from bot.platform.storage.times import from_db_time, to_db_time

# Teams' message ids in personal chats are the milliseconds since 1970 when the message was posted.
_TIMESTAMP_DIGITS = range(12, 15)


@dataclass(frozen=True, slots=True)
class EngagementTotals:
    """One notification's engagement: counts, time to read (milliseconds) and reactions by type."""

    delivered: int
    read: int
    clicked: int
    acknowledged: int
    read_median_ms: int | None
    read_p90_ms: int | None
    reactions: dict[str, tuple[int, int]] = field(default_factory=dict)  # type -> (added, removed)


@dataclass(frozen=True, slots=True)
class Engaged:
    """A delivery with when it was read, first clicked and acknowledged (None when not yet)."""

    delivery: Delivery
    sent_at: datetime | None
    read_at: datetime | None
    clicked_at: datetime | None
    acked_at: datetime | None


@dataclass(frozen=True, slots=True)
class EngagementFilter:
    """Which recipients a listing shows: None leaves a criterion out, True/False asks for it or its negation."""

    state: str | None = None
    read: bool | None = None
    clicked: bool | None = None
    acknowledged: bool | None = None


def _time(value: Any) -> datetime | None:
    return from_db_time(value) if value else None


def _engaged(row: Row) -> Engaged:
    return Engaged(
        delivery=delivery_from_row(row),
        sent_at=_time(row.get("sent_at")),
        read_at=_time(row.get("read_at")),
        clicked_at=_time(row.get("clicked_at")),
        acked_at=_time(row.get("acked_at")),
    )


def _id_time(message_id: str) -> datetime | None:
    """The time a Teams message id stands for (a millisecond timestamp), if it is one."""
    if not message_id.isdigit() or len(message_id) not in _TIMESTAMP_DIGITS:
        return None
    return datetime.fromtimestamp(int(message_id) / 1000, tz=UTC)


def _read_up_to(rows: Sequence[Row], last_read: str, reference: datetime | None) -> list[Row]:
    """The rows whose message comes no later than ``last_read``: by number when both ids are numbers (Teams' ids
    increase), else by the time the delivery was sent against ``reference`` (when the last read message was sent)."""
    chosen = []
    for row in rows:
        activity_id = str(row["activity_id"])
        if activity_id.isdigit() and last_read.isdigit():
            if int(activity_id) <= int(last_read):
                chosen.append(row)
        elif reference is not None and row["sent_at"] and from_db_time(row["sent_at"]) <= reference:
            chosen.append(row)
    return chosen


@dataclass(frozen=True, slots=True)
class ReadReceipt:
    conversation_id: str
    last_read_id: str
    at: datetime


def _read_update(row: Row, at: datetime) -> tuple[Any, ...]:
    sent = from_db_time(row["sent_at"]) if row["sent_at"] else at
    after_ms = max(0, int((at - sent).total_seconds() * 1000))
    return (row["notification_id"], row["recipient_key"], to_db_time(at), after_ms, read_bucket(after_ms))


class EngagementLedger:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._reads: Batcher[ReadReceipt, int] = Batcher(self._mark_read_batch)

    # -- recording --------------------------------------------------------------------------------------
    async def mark_read(self, conversation_id: str, last_read_id: str, now: datetime) -> int:
        """Every unread delivery sent to ``conversation_id`` up to the message ``last_read_id`` becomes read now;
        how many did. Concurrent receipts share their statements (group commit); each caller waits for its own."""
        return await self._reads.submit(ReadReceipt(conversation_id, last_read_id, now))

    async def _mark_read_batch(self, receipts: list[ReadReceipt]) -> list[int]:
        chats = sorted({r.conversation_id for r in receipts})
        marks = ", ".join(f"${n}" for n in range(1, len(chats) + 1))
        query = (
            "SELECT notification_id, recipient_key, conversation_id, activity_id, sent_at FROM deliveries "  # noqa: S608
            f"WHERE conversation_id IN ({marks}) AND activity_id IS NOT NULL AND read_at IS NULL AND state = 'sent'"
        )
        rows = await self._db.fetch(query, *chats)
        unread: dict[str, list[Row]] = {}
        for row in rows:
            unread.setdefault(row["conversation_id"], []).append(row)
        counts: list[int] = []
        updates: list[tuple[Any, ...]] = []
        taken: set[tuple[str, str]] = set()
        for receipt in receipts:
            chosen = [
                row
                for row in await self._read_in(receipt, unread.get(receipt.conversation_id, []))
                if (row["notification_id"], row["recipient_key"]) not in taken
            ]
            taken.update((row["notification_id"], row["recipient_key"]) for row in chosen)
            counts.append(len(chosen))
            updates.extend(_read_update(row, receipt.at) for row in chosen)
        if updates:
            await self._db.executemany(
                "UPDATE deliveries SET read_at = $3, read_after_ms = $4, read_bucket = $5 "
                "WHERE notification_id = $1 AND recipient_key = $2 AND read_at IS NULL",
                updates,
            )
        return counts

    async def _read_in(self, receipt: ReadReceipt, rows: list[Row]) -> list[Row]:
        """The unread ``rows`` of the receipt's chat that its last read message covers."""
        if not rows:
            return []
        last = receipt.last_read_id
        reference = None
        if not last.isdigit() or not all(str(r["activity_id"]).isdigit() for r in rows):
            reference = await self._sent_time(receipt.conversation_id, last) or _id_time(last)
        return _read_up_to(rows, last, reference)

    async def _sent_time(self, conversation_id: str, activity_id: str) -> datetime | None:
        value = await self._db.fetchval(
            "SELECT MAX(sent_at) FROM deliveries WHERE conversation_id = $1 AND activity_id = $2",
            conversation_id,
            activity_id,
        )
        return _time(value)

    async def record_reactions(
        self, conversation_id: str, activity_id: str, *, added: Sequence[str], removed: Sequence[str]
    ) -> str | None:
        """Count reactions on the delivered copy ``activity_id`` in ``conversation_id``; its notification's id, or
        None when no delivery is that message."""
        notification_id = await self._db.fetchval(
            "SELECT notification_id FROM deliveries WHERE conversation_id = $1 AND activity_id = $2 LIMIT 1",
            conversation_id,
            activity_id,
        )
        if notification_id is None:
            return None
        changes = [(r, 1, 0) for r in added] + [(r, 0, 1) for r in removed]
        await self._db.executemany(
            "INSERT INTO notification_reactions (notification_id, reaction, added, removed) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (notification_id, reaction) DO UPDATE SET added = notification_reactions.added + "
            "excluded.added, removed = notification_reactions.removed + excluded.removed",
            [(notification_id, reaction, plus, minus) for reaction, plus, minus in changes],
        )
        return str(notification_id)

    async def delivered(self, notification_id: str, recipient_key: str) -> Delivery | None:
        """The delivery, if its card may have reached the recipient (only such a copy can be clicked): sent, or still
        being marked sent, or maybe delivered."""
        row = await self._db.fetchrow(
            "SELECT * FROM deliveries WHERE notification_id = $1 AND recipient_key = $2 "
            "AND state IN ('sending', 'sent', 'maybe_delivered')",
            notification_id,
            recipient_key,
        )
        return delivery_from_row(row) if row is not None else None

    async def record_click(self, notification_id: str, recipient_key: str, link: int, now: datetime) -> bool:
        """The first click of this recipient on this link (True), or a repeated one (False, nothing changes)."""
        stamp = to_db_time(now)
        async with self._db.transaction() as tx:
            first = await tx.execute(
                "INSERT INTO delivery_clicks (notification_id, recipient_key, link, clicked_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (notification_id, recipient_key, link) DO NOTHING",
                notification_id,
                recipient_key,
                link,
                stamp,
            )
            if first:
                await tx.execute(
                    "UPDATE deliveries SET clicked_at = $3 "
                    "WHERE notification_id = $1 AND recipient_key = $2 AND clicked_at IS NULL",
                    notification_id,
                    recipient_key,
                    stamp,
                )
        return first == 1

    # -- reporting --------------------------------------------------------------------------------------
    async def totals(self, notification_id: str) -> EngagementTotals:
        """From the maintained counts (see :mod:`bot.platform.messaging.counts`): a few rows, however many
        recipients."""
        counts = await NotificationCounts(self._db).read(notification_id)
        histogram = {int(reason): n for (state, reason), n in counts.items() if state == "@read"}
        rows = await self._db.fetch(
            "SELECT reaction, added, removed FROM notification_reactions WHERE notification_id = $1 ORDER BY reaction",
            notification_id,
        )
        return EngagementTotals(
            delivered=sum(n for (state, _), n in counts.items() if state == "sent"),
            read=sum(histogram.values()),
            clicked=counts.get(("@clicked", ""), 0),
            acknowledged=counts.get(("@acknowledged", ""), 0),
            read_median_ms=quantile_ms(histogram, 0.5),
            read_p90_ms=quantile_ms(histogram, 0.9),
            reactions={r["reaction"]: (int(r["added"]), int(r["removed"])) for r in rows},
        )

    async def page(self, notification_id: str, *, where: EngagementFilter, after: str, limit: int) -> list[Engaged]:
        """Recipients in key order after ``after`` (a cursor), filtered by state and engagement."""
        args: list[Any] = [notification_id, after, limit]
        conditions = ["notification_id = $1", "recipient_key > $2"]
        if where.state:
            args.append(where.state)
            conditions.append(f"state = ${len(args)}")
        flags = (("read_at", where.read), ("clicked_at", where.clicked), ("acked_at", where.acknowledged))
        for column, wanted in flags:  # fixed column names, never input
            if wanted is not None:
                conditions.append(f"{column} IS {'NOT ' if wanted else ''}NULL")
        rows = await self._db.fetch(
            f"SELECT * FROM deliveries WHERE {' AND '.join(conditions)} ORDER BY recipient_key LIMIT $3",  # noqa: S608
            *args,
        )
        return [_engaged(r) for r in rows]
