"""A notification's figures, maintained as its deliveries change instead of counted when asked (migration 0061).

Database triggers append a +1/-1 row to ``notification_count_changes`` for every change of a delivery's state or
reason, every first read and first click, and every acknowledgement; nothing else writes there, so the figures
cannot drift from the deliveries. The rows are folded into ``notification_counts`` by the engine every few seconds
and by a reader that finds many; a read sums both tables in one statement (one snapshot), so a fold running at the
same time is seen whole or not at all. On PostgreSQL a large fold vacuums the changes table (see VACUUM_AFTER).

Time to read is a histogram: a read's bucket is ``0`` under a second, else ``1 + floor(log(ms / 1000) / log(1.05))``,
so a quantile is known within about 2.5%.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from bot.platform.storage.base import Database

FOLD_WHEN_PENDING = 256  # a reader folds a notification's changes when it finds more than this many
# On PostgreSQL, folded (deleted) rows stay in the changes table's index until a vacuum, and every read would walk
# them: a fold this large vacuums the table at once instead of waiting for autovacuum.
VACUUM_AFTER = 10_000
_RATIO = 1.05

Counts = dict[tuple[str, str], int]  # (state, reason) -> count; engagement states start with "@"


def read_bucket(milliseconds: int) -> int:
    """The time-to-read histogram bucket of a read after ``milliseconds``."""
    if milliseconds < 1000:
        return 0
    return 1 + int(math.log(milliseconds / 1000) / math.log(_RATIO))


def bucket_value(bucket: int) -> int:
    """The milliseconds a bucket stands for: the geometric middle of its bounds (500 ms for the first)."""
    if bucket <= 0:
        return 500
    lower = 1000 * _RATIO ** (bucket - 1)
    return round(lower * math.sqrt(_RATIO))


def quantile_ms(histogram: dict[int, int], quantile: float) -> int | None:
    """The time to read at ``quantile`` (nearest rank) of a histogram of buckets, or None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(round(total * quantile, 6)))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(histogram))


class NotificationCounts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, notification_id: str) -> Counts:
        """Every (state, reason) count of a notification, engagement included; folds its changes when many."""
        rows = await self._db.fetch(
            "SELECT state, reason, SUM(n) AS n, SUM(pending) AS pending FROM ("
            "  SELECT state, reason, n, 0 AS pending FROM notification_counts WHERE notification_id = $1"
            "  UNION ALL"
            "  SELECT state, reason, n, 1 AS pending FROM notification_count_changes WHERE notification_id = $1"
            ") AS both_tables GROUP BY state, reason",
            notification_id,
        )
        if sum(int(r["pending"]) for r in rows) > FOLD_WHEN_PENDING:
            await self.fold(notification_id)
        return {(r["state"], r["reason"]): int(r["n"]) for r in rows if int(r["n"])}

    async def fold(self, notification_id: str | None = None) -> int:
        """Move pending changes (of one notification, or all) into the counts; how many change rows were folded."""
        where, args = ("WHERE notification_id = $1", [notification_id]) if notification_id else ("", [])
        async with self._db.transaction() as tx:
            rows = await tx.fetch(
                f"DELETE FROM notification_count_changes {where} RETURNING notification_id, state, reason, n",  # noqa: S608
                *args,
            )
            sums: dict[tuple[str, str, str], int] = defaultdict(int)
            for row in rows:
                sums[(row["notification_id"], row["state"], row["reason"])] += int(row["n"])
            changes: list[tuple[Any, ...]] = [(*key, n) for key, n in sorted(sums.items()) if n]
            if changes:
                await tx.executemany(
                    "INSERT INTO notification_counts (notification_id, state, reason, n) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (notification_id, state, reason) DO UPDATE SET n = notification_counts.n + excluded.n",
                    changes,
                )
        if len(rows) >= VACUUM_AFTER and self._db.dialect == "postgresql":
            await self._db.execute("VACUUM notification_count_changes")
        return len(rows)
