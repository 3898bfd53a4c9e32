"""The insights card, assembled from computed :class:`~bot.features.insights.metrics.Insights`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from babel.numbers import format_percent

from bot.features.insights.chart import bar_chart
from bot.features.insights.metrics import DAYS, Insights
from bot.features.insights.store import Root
from bot.platform import i18n
from bot.platform.cards import CardRenderer
from bot.platform.i18n import N_, _, ngettext

BAR = 16  # characters of the longest text bar
UNANSWERED_SHOWN = 5
NO_EARLIER = (N_("no earlier data"), "Default")


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
        return _("n/a")
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return _("{n} min", n=max(minutes, 0)) if minutes else _("{n} s", n=int(value.total_seconds()))
    hours, rest = divmod(minutes, 60)
    return _("{hours} h {minutes} min", hours=hours, minutes=rest) if rest else _("{hours} h", hours=hours)


def change(now: float, before: float | None, *, lower_is_better: bool = False, percent: bool = True) -> tuple[str, str]:
    """How a figure moved against the period before, and the colour that says whether that is good."""
    if before is None:
        return _(NO_EARLIER[0]), NO_EARLIER[1]
    if before == 0:
        return (_("new") if now else _("no change")), "Default"
    delta = now - before
    if delta == 0:
        return _("no change"), "Default"
    better = (delta < 0) if lower_is_better else (delta > 0)
    arrow = "▲" if delta > 0 else "▼"
    words = i18n.current()
    shown = format_percent(abs(delta) / before, locale=words.babel_locale) if percent else words.number(abs(delta))
    text = f"{arrow} {shown}"
    return text, "Good" if better else "Attention"


def stats(insights: Insights, members: int | None) -> list[Stat]:
    """The three headline figures, each with its change against the period before."""
    before = insights.previous if insights.previous is not None and insights.previous.messages > 0 else None
    messages = change(insights.messages, before.messages if before else None)
    active = change(insights.active, before.active if before else None, percent=False)
    median, before_median = insights.first_reply_median, before.first_reply_median if before else None
    reply = (_(NO_EARLIER[0]), NO_EARLIER[1])
    if median is not None and before_median is not None:
        minutes_now, minutes_before = median.total_seconds() / 60, before_median.total_seconds() / 60
        reply = change(round(minutes_now), round(minutes_before), lower_is_better=True)
    return [
        Stat(number(insights.messages), _("messages"), *messages),
        Stat(
            number(insights.active) + (f" / {number(members)}" if members else ""),
            _("active members of all") if members else _("active members"),
            *active,
        ),
        Stat(duration(median), _("median first reply"), *reply),
    ]


def facts(insights: Insights) -> list[Fact]:
    busiest = _("n/a")
    if insights.busiest_day is not None and insights.busiest_hour is not None:
        hour = insights.busiest_hour
        day = _weekday(insights.busiest_day)
        busiest = f"{day}, {hour:02d}:00-{(hour + 1) % 24:02d}:00 UTC"
    contributors = " · ".join(f"{c.name} {number(c.messages)}" for c in insights.top) or _("nobody yet")
    replies = ngettext("{n} reply", "{n} replies", insights.replies, n=number(insights.replies))
    return [
        Fact(_("Threads"), f"{number(insights.threads)} ({replies})"),
        Fact(_("First reply, 90th percentile"), duration(insights.first_reply_p90)),
        Fact(_("Top contributors"), contributors),
        Fact(_("Busiest"), busiest),
    ]


def number(value: int) -> str:
    return i18n.current().number(value)


def _weekday(name: str, *, short: bool = False) -> str:
    """A day name of :data:`DAYS` ("Monday") in the current language."""
    words = i18n.current()
    if name not in DAYS or words.is_english:
        return name[:3] if short else name
    index = DAYS.index(name)
    return words.weekday_short(index) if short else str(words.babel_locale.days["format"]["wide"][index])


def day_rows(by_day: tuple[int, ...]) -> list[DayRow]:
    """The same chart as text, a row a day: readable where images are not shown."""
    peak = max(by_day) or 1
    return [
        DayRow(_weekday(name, short=True), f"{'█' * round(BAR * count / peak) or '▏'} {number(count)}")
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
        f"• [{_md((q.snippet or _('a question'))[:100])}]({message_link(q, insights.tenant_id)}) "
        f"({i18n.current().short_date(q.created_at)})"
        for q in insights.unanswered[:UNANSWERED_SHOWN]
    ]


def waiting_line(waiting: int) -> str | None:
    """Fresh questions (under 24 h) with no reply yet: said apart from the unanswered ones, which waited longer."""
    if not waiting:
        return None
    return ngettext(
        "{n} fresh question (asked in the last 24 h) still waiting for a first reply.",
        "{n} fresh questions (asked in the last 24 h) still waiting for a first reply.",
        waiting,
        n=number(waiting),
    )


def insights_card(
    renderer: CardRenderer, app_name: str, insights: Insights, *, title: str, days: int, members: int | None = None
) -> dict[str, Any]:
    """The card for ``insights`` over ``days``; ``members`` (the roster's size) adds the share of active members."""
    return renderer.render(
        "insights",
        {
            "app_name": app_name,
            "title": _("{title} · last {days} days", title=title, days=days),
            "subtitle": _(
                "{since} – {until} · compared with the {days} days before",
                since=i18n.current().short_date(insights.since),
                until=i18n.current().short_date(insights.until),
                days=days,
            ),
            "stats": stats(insights, members),
            "facts": facts(insights),
            "day_rows": day_rows(insights.by_day),
            "chart_url": bar_chart(list(insights.by_day)),
            "chart_alt": _(
                "Messages by day: {days}",
                days=", ".join(f"{_weekday(d, short=True)} {n}" for d, n in zip(DAYS, insights.by_day, strict=True)),
            ),
            "unanswered": unanswered_lines(insights),
            "unanswered_total": len(insights.unanswered),
            "waiting": waiting_line(insights.waiting),
        },
    )
