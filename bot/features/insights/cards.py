"""The insights card, assembled from computed :class:`~bot.features.insights.metrics.Insights`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from bot.features.insights.chart import bar_chart
from bot.features.insights.metrics import DAYS, Insights
from bot.features.insights.store import Root
from bot.platform.cards import CardRenderer

BAR = 16  # characters of the longest text bar
UNANSWERED_SHOWN = 5
NO_EARLIER = ("no earlier data", "Default")


@dataclass(frozen=True, slots=True)
class Stat:
    value: str
    label: str
    change: str
    color: str  # Adaptive Card text colour: Default, Good, Attention


@dataclass(frozen=True, slots=True)
class Fact:
    title: str
    value: str


@dataclass(frozen=True, slots=True)
class DayRow:
    day: str
    bar: str


def duration(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min" if minutes else f"{int(value.total_seconds())} s"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def change(now: float, before: float | None, *, lower_is_better: bool = False, percent: bool = True) -> tuple[str, str]:
    """How a figure moved against the period before, and the colour that says whether that is good."""
    if before is None:
        return NO_EARLIER
    if before == 0:
        return ("new" if now else "no change"), "Default"
    delta = now - before
    if delta == 0:
        return "no change", "Default"
    better = (delta < 0) if lower_is_better else (delta > 0)
    arrow = "▲" if delta > 0 else "▼"
    text = f"{arrow} {abs(delta) / before:.0%}" if percent else f"{arrow} {abs(delta):g}"
    return text, "Good" if better else "Attention"


def stats(insights: Insights, members: int | None) -> list[Stat]:
    """The three headline figures, each with its change against the period before."""
    before = insights.previous if insights.previous is not None and insights.previous.messages > 0 else None
    messages = change(insights.messages, before.messages if before else None)
    active = change(insights.active, before.active if before else None, percent=False)
    median, before_median = insights.first_reply_median, before.first_reply_median if before else None
    reply = NO_EARLIER
    if median is not None and before_median is not None:
        minutes_now, minutes_before = median.total_seconds() / 60, before_median.total_seconds() / 60
        reply = change(round(minutes_now), round(minutes_before), lower_is_better=True)
    return [
        Stat(f"{insights.messages:,}", "messages", *messages),
        Stat(
            f"{insights.active}" + (f" / {members}" if members else ""),
            "active members" + (" of all" if members else ""),
            *active,
        ),
        Stat(duration(median), "median first reply", *reply),
    ]


def facts(insights: Insights) -> list[Fact]:
    busiest = "n/a"
    if insights.busiest_day is not None and insights.busiest_hour is not None:
        hour = insights.busiest_hour
        busiest = f"{insights.busiest_day}, {hour:02d}:00-{(hour + 1) % 24:02d}:00 UTC"
    contributors = " · ".join(f"{c.name} {c.messages}" for c in insights.top) or "nobody yet"
    return [
        Fact("Threads", f"{insights.threads:,} ({insights.replies:,} replies)"),
        Fact("First reply, 90th percentile", duration(insights.first_reply_p90)),
        Fact("Top contributors", contributors),
        Fact("Busiest", busiest),
    ]


def day_rows(by_day: tuple[int, ...]) -> list[DayRow]:
    """The same chart as text, a row a day: readable where images are not shown."""
    peak = max(by_day) or 1
    return [
        DayRow(name[:3], f"{'█' * round(BAR * count / peak) or '▏'} {count}")
        for name, count in zip(DAYS, by_day, strict=True)
    ]


def message_link(root: Root, tenant_id: str) -> str:
    """Teams' deep link to a channel message (it opens the thread)."""
    query = urlencode({"tenantId": tenant_id, "parentMessageId": root.message_id})
    return f"https://teams.microsoft.com/l/message/{quote(root.channel_id, safe='')}/{quote(root.message_id)}?{query}"


def _md(text: str) -> str:
    """Text safe inside a markdown link label."""
    return text.replace("[", "(").replace("]", ")")


def unanswered_lines(insights: Insights) -> list[str]:
    """The oldest unanswered questions, each a markdown link to its thread."""
    return [
        f"• [{_md((q.snippet or 'a question')[:100])}]({message_link(q, insights.tenant_id)}) ({q.created_at:%b %d})"
        for q in insights.unanswered[:UNANSWERED_SHOWN]
    ]


def waiting_line(waiting: int) -> str | None:
    """Fresh questions (under 24 h) with no reply yet: said apart from the unanswered ones, which waited longer."""
    if not waiting:
        return None
    one = waiting == 1
    return f"{waiting} fresh question{'' if one else 's'} (asked in the last 24 h) still waiting for a first reply."


def insights_card(
    renderer: CardRenderer, app_name: str, insights: Insights, *, title: str, days: int, members: int | None = None
) -> dict[str, Any]:
    """The card for ``insights`` over ``days``; ``members`` (the roster's size) adds the share of active members."""
    return renderer.render(
        "insights",
        {
            "app_name": app_name,
            "title": f"{title} · last {days} days",
            "subtitle": f"{insights.since:%b %d} – {insights.until:%b %d} · compared with the {days} days before",
            "stats": stats(insights, members),
            "facts": facts(insights),
            "day_rows": day_rows(insights.by_day),
            "chart_url": bar_chart(list(insights.by_day)),
            "chart_alt": "Messages by day: "
            + ", ".join(f"{d[:3]} {n}" for d, n in zip(DAYS, insights.by_day, strict=True)),
            "unanswered": unanswered_lines(insights),
            "unanswered_total": len(insights.unanswered),
            "waiting": waiting_line(insights.waiting),
        },
    )
