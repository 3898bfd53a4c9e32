"""What a channel's activity adds up to over a period, and how it changed against the period before.

Definitions (the tests pin them on small hand-made channels):
- messages: every message and reply not deleted; threads: root messages; replies: the rest;
- active members: distinct authors; top contributors: by messages, people who opted out are counted but not named;
- time to first reply: for each thread started in the period, from its root to the first reply by someone else;
  median and 90th percentile over the threads that got one;
- unanswered questions: roots that read as a question, older than 24 hours, with no reply from someone else;
- waiting questions: the same, asked in the last 24 hours (fresh: shown apart, not counted as unanswered);
- busiest day and hour: by messages, in UTC (the card says so).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.features.insights.store import InsightsStore, Root

UNANSWERED_AFTER = timedelta(hours=24)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Contributor:
    name: str  # "Someone (opted out)" for people who asked not to be named
    messages: int


@dataclass(frozen=True, slots=True)
class Period:
    """The figures the card compares against: the period before's messages, active members and median reply."""

    messages: int
    active: int
    first_reply_median: timedelta | None


@dataclass(frozen=True, slots=True)
class Insights:
    since: datetime
    until: datetime
    messages: int
    threads: int
    replies: int
    active: int
    top: tuple[Contributor, ...]
    by_day: tuple[int, ...]  # messages per weekday, Monday first
    by_hour: tuple[int, ...]  # messages per hour of day, UTC
    first_reply_median: timedelta | None
    first_reply_p90: timedelta | None
    unanswered: tuple[Root, ...]
    previous: Period | None = field(default=None)
    tenant_id: str = ""
    waiting: int = 0  # questions under 24 h old with no reply yet: fresh, not (yet) unanswered

    @property
    def busiest_day(self) -> str | None:
        return DAYS[max(range(7), key=lambda d: self.by_day[d])] if any(self.by_day) else None

    @property
    def busiest_hour(self) -> int | None:
        return max(range(24), key=lambda h: self.by_hour[h]) if any(self.by_hour) else None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _waits(roots: Sequence[Root]) -> list[float]:
    """Seconds from each thread's root to its first reply by someone else, for threads that got one."""
    return [(r.first_reply_at - r.created_at).total_seconds() for r in roots if r.first_reply_at is not None]


async def _period(store: InsightsStore, channel_ids: Sequence[str], since: datetime, until: datetime) -> Period:
    """Only what the card compares (the previous period needs no contributors, chart or questions)."""
    messages, _, active = await store.totals(channel_ids, since, until)
    waits = _waits(await store.roots(channel_ids, since, until))
    return Period(messages, active, timedelta(seconds=statistics.median(waits)) if waits else None)


async def compute(
    store: InsightsStore,
    channel_ids: Sequence[str],
    *,
    tenant_id: str,
    now: datetime,
    days: int,
    top: int = 5,
) -> Insights:
    since, until = now - timedelta(days=days), now
    messages, replies, active = await store.totals(channel_ids, since, until)
    hidden = await store.opted_out(tenant_id)
    contributors = tuple(
        Contributor("Someone (opted out)" if author in hidden else (name or "Someone"), count)
        for author, name, count in await store.top_authors(channel_ids, since, until, top)
    )
    by_day, by_hour = [0] * 7, [0] * 24
    for weekday, hour, count in await store.histogram(channel_ids, since, until):
        by_day[weekday] += count
        by_hour[hour] += count
    roots = await store.roots(channel_ids, since, until)
    waits = _waits(roots)
    unanswered = tuple(
        sorted(
            (r for r in roots if r.is_question and r.first_reply_at is None and now - r.created_at > UNANSWERED_AFTER),
            key=lambda r: r.created_at,
        )
    )
    waiting = sum(
        1 for r in roots if r.is_question and r.first_reply_at is None and now - r.created_at <= UNANSWERED_AFTER
    )
    previous = await _period(store, channel_ids, since - timedelta(days=days), since)
    return Insights(
        since=since,
        until=until,
        messages=messages,
        threads=len(roots),
        replies=replies,
        active=active,
        top=contributors,
        by_day=tuple(by_day),
        by_hour=tuple(by_hour),
        first_reply_median=timedelta(seconds=statistics.median(waits)) if waits else None,
        first_reply_p90=timedelta(seconds=_percentile(waits, 0.9)) if waits else None,
        unanswered=unanswered,
        previous=previous,
        tenant_id=tenant_id,
        waiting=waiting,
    )
