"""``insights`` in a channel, the channel-message ingestion behind it, edits and deletes, and ``insights optout``."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from bot.features.insights.chart import bar_chart
from bot.features.insights.ingest import channel_message, looks_like_question, plain_text
from bot.features.insights.metrics import DAYS, Insights, compute
from bot.features.insights.store import InsightsStore, Root
from bot.features.reminders.store import ACTIVE, CANCELLED, Reminder, ReminderStore
from bot.platform.services import Services
from bot.platform.teams.router import CommandRequest, Event, Router
from bot.platform.teams.turn import Message, Turn
from bot.platform.time import localize, user_key, user_zone

logger = logging.getLogger(__name__)

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
DIGEST = "insights_digest"
BAR = 16


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min" if minutes else f"{int(value.total_seconds())} s"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _change(
    now: float, before: float | None, *, lower_is_better: bool = False, percent: bool = True
) -> tuple[str, str]:
    if before is None:
        return "no earlier data", "Default"
    if before == 0:
        return ("new" if now else "no change"), "Default"
    delta = now - before
    if delta == 0:
        return "no change", "Default"
    better = (delta < 0) if lower_is_better else (delta > 0)
    arrow = "▲" if delta > 0 else "▼"
    text = f"{arrow} {abs(delta) / before:.0%}" if percent else f"{arrow} {abs(delta):g}"
    return text, "Good" if better else "Attention"


def day_rows(by_day: tuple[int, ...]) -> list[dict[str, str]]:
    """The same chart as text, a row a day: readable where images are not shown."""
    peak = max(by_day) or 1
    return [
        {"day": name[:3], "bar": f"{'█' * round(BAR * count / peak) or '▏'} {count}"}
        for name, count in zip(DAYS, by_day, strict=True)
    ]


def message_link(root: Root, tenant_id: str) -> str:
    """Teams' deep link to a channel message (it opens the thread)."""
    query = urlencode({"tenantId": tenant_id, "parentMessageId": root.message_id})
    return f"https://teams.microsoft.com/l/message/{quote(root.channel_id, safe='')}/{quote(root.message_id)}?{query}"


def _md(text: str) -> str:
    """Text safe inside a markdown link label."""
    return text.replace("[", "(").replace("]", ")")


def render(services: Services, insights: Insights, *, title: str, days: int, members: int | None) -> dict[str, Any]:
    before = insights.previous
    has_before = before is not None and before.messages > 0
    msg_change = _change(insights.messages, before.messages if has_before and before else None)
    active_change = _change(insights.active, before.active if has_before and before else None, percent=False)
    median = insights.first_reply_median
    before_median = before.first_reply_median if has_before and before else None
    if median is not None and before_median is not None:
        minutes_now, minutes_before = median.total_seconds() / 60, before_median.total_seconds() / 60
        reply_change = _change(round(minutes_now), round(minutes_before), lower_is_better=True)
    else:
        reply_change = ("no earlier data", "Default")
    stats = [
        {"value": f"{insights.messages:,}", "label": "messages", "change": msg_change[0], "color": msg_change[1]},
        {
            "value": f"{insights.active}" + (f" / {members}" if members else ""),
            "label": "active members" + (" of all" if members else ""),
            "change": active_change[0],
            "color": active_change[1],
        },
        {
            "value": _duration(median),
            "label": "median first reply",
            "change": reply_change[0],
            "color": reply_change[1],
        },
    ]
    busiest = "n/a"
    if insights.busiest_day is not None and insights.busiest_hour is not None:
        hour = insights.busiest_hour
        busiest = f"{insights.busiest_day}, {hour:02d}:00-{(hour + 1) % 24:02d}:00 UTC"
    facts = [
        {"title": "Threads", "value": f"{insights.threads:,} ({insights.replies:,} replies)"},
        {"title": "First reply, 90th percentile", "value": _duration(insights.first_reply_p90)},
        {
            "title": "Top contributors",
            "value": " · ".join(f"{c.name} {c.messages}" for c in insights.top) or "nobody yet",
        },
        {"title": "Busiest", "value": busiest},
    ]
    unanswered = [
        f"• [{_md((q.snippet or 'a question')[:100])}]({message_link(q, insights.tenant_id)}) ({q.created_at:%b %d})"
        for q in insights.unanswered[:5]
    ]
    return services.cards.render(
        "insights",
        {
            "app_name": services.settings.app_name,
            "title": f"{title} · last {days} days",
            "subtitle": f"{insights.since:%b %d} – {insights.until:%b %d} · compared with the {days} days before",
            "stats": stats,
            "facts": facts,
            "day_rows": day_rows(insights.by_day),
            "chart_url": bar_chart(list(insights.by_day)),
            "chart_alt": "Messages by day: "
            + ", ".join(f"{d[:3]} {n}" for d, n in zip(DAYS, insights.by_day, strict=True)),
            "unanswered": unanswered,
            "unanswered_total": len(insights.unanswered),
        },
    )


def register(router: Router, services: Services) -> None:  # noqa: PLR0915 - one feature's handlers, together
    store = services.store

    @router.on(Event.CHANNEL_MESSAGE)
    async def ingest(turn: Turn) -> None:
        row = channel_message(turn.activity, received_at=services.clock())
        if row is not None:
            await InsightsStore(store.db).ingest([row])

    @router.on(Event.MESSAGE_UPDATED)
    async def edited(turn: Turn) -> None:
        activity = turn.activity
        if activity.conversation_type != "channel" or not activity.id:
            return
        channel = activity.channel
        await InsightsStore(store.db).edited(
            channel,
            activity.id,
            is_question=looks_like_question(activity.text),
            snippet=plain_text(activity.text)[:140] or None,
            at=services.clock(),
        )

    @router.on(Event.REACTION)
    async def reaction(turn: Turn) -> None:
        activity = turn.activity
        if activity.conversation_type != "channel" or not activity.reply_to_id:
            return
        raw = activity.raw
        change = len(raw.get("reactionsAdded") or []) - len(raw.get("reactionsRemoved") or [])
        if change:
            channel = activity.channel
            await InsightsStore(store.db).reacted(channel, activity.reply_to_id, change)

    @router.on(Event.MESSAGE_DELETED)
    async def deleted(turn: Turn) -> None:
        activity = turn.activity
        if activity.conversation_type == "channel" and activity.id:
            await InsightsStore(store.db).deleted(activity.channel, activity.id)

    @router.on(Event.UNINSTALLED)
    async def removed(turn: Turn) -> None:
        if turn.activity.conversation_type == "channel" and turn.activity.team_id:
            purged = await InsightsStore(store.db).purge_team(turn.activity.team_id)
            logger.info("removed from a team: %d channel messages purged", purged)

    def notice(title: str, text: str) -> Message:
        return Message(card=services.notice(title, text))

    async def backfill_here(turn: Turn) -> None:
        activity = turn.activity
        if activity.conversation_type != "channel" or not activity.team_id:
            await turn.reply(notice("Backfill works in a channel", "@mention me in the channel to read its history."))
            return
        channel = activity.channel
        started = await services.signals.backfill(activity.tenant_id or "", activity.team_id, channel)
        if started:
            await turn.reply(
                notice("Reading this channel's history", "I'll post progress here; insights grow as I go.")
            )
        else:
            await turn.reply(notice("Backfill unavailable", "This Courier has no Graph access (it needs an app id)."))

    async def digest_card(reminder: Reminder) -> dict[str, Any]:
        channel = reminder.conversation_id or ""
        result = await compute(
            InsightsStore(store.db), [channel], tenant_id=reminder.tenant_id, now=services.clock(), days=7
        )
        record = await store.get_conversation(channel)
        title = f"Weekly digest · {record.name}" if record and record.name else "Weekly digest"
        return render(services, result, title=title, days=7, members=None)

    services.signals.scheduled_cards[DIGEST] = digest_card

    async def weekly(turn: Turn, switch: str) -> None:
        activity = turn.activity
        if activity.conversation_type != "channel":
            await turn.reply(notice("The digest is for channels", "@mention me in a channel: insights weekly on."))
            return
        channel = activity.channel
        existing = await ReminderStore(store.db).find_kind(channel, DIGEST)
        now = services.clock()
        if switch == "off":
            if existing is not None:
                await ReminderStore(store.db).set_status(existing.id, CANCELLED, now, from_statuses=(ACTIVE,))
            await turn.reply(notice("Weekly digest off", "No more Monday insights in this channel."))
            return
        if switch not in {"", "on"}:
            await turn.reply(notice("Weekly digest", "Say insights weekly on, or insights weekly off."))
            return
        if existing is not None:
            await turn.reply(notice("Weekly digest already on", "It comes every Monday at 09:00."))
            return
        zone, _ = await user_zone(services, turn)
        tz = ZoneInfo(zone)
        local = now.astimezone(tz)
        monday = (local + timedelta(days=(7 - local.weekday()) % 7 or 7)).date()
        first = localize(datetime.combine(monday, time(9, 0)), tz)
        await ReminderStore(store.db).create(
            Reminder(
                id="",
                tenant_id=activity.tenant_id or "",
                creator_id=(activity.sender.aad_object_id or activity.sender.id).lower(),
                creator_name=activity.sender.name,
                target_kind="conversation",
                target_user_id=None,
                target_name=None,
                conversation_id=channel,
                origin_conversation_id=channel,
                text="Weekly insights digest",
                source_link=None,
                zone=zone,
                rule="FREQ=WEEKLY;BYDAY=MO",
                anchor=first,
                due_at=first,
                occurrence_at=first,
                status=ACTIVE,
                kind=DIGEST,
            ),
            now,
        )
        services.signals.reminders_changed()
        await turn.reply(notice("Weekly digest on", f"Every Monday at 09:00 ({zone}), starting {first:%b %d}."))

    @router.on(Event.INSTALLED)
    async def installed(turn: Turn) -> None:
        activity = turn.activity
        if activity.conversation_type == "channel" and activity.team_id:
            channel = activity.channel
            await services.signals.backfill(activity.tenant_id or "", activity.team_id, channel)

    @router.on(Event.CHANNEL_CHANGED)
    async def channel_changed(turn: Turn) -> None:
        activity = turn.activity
        if activity.event_type == "channelDeleted" and activity.channel_id_teams:
            purged = await InsightsStore(store.db).purge_channel(activity.channel_id_teams)
            logger.info("a channel was deleted: %d of its messages purged", purged)

    @router.command(
        "insights",
        description="Activity in this channel: messages, people, replies, unanswered questions",
        example="insights 30d",
        group="Insights",
    )
    async def insights(turn: Turn, request: CommandRequest) -> None:
        activity = turn.activity
        arg = request.args.strip().lower() or "7d"
        if arg == "backfill":
            await backfill_here(turn)
            return
        if arg.startswith("weekly"):
            await weekly(turn, arg.removeprefix("weekly").strip())
            return
        if arg in {"optout", "opt out", "optin", "opt in"}:
            out = arg.replace(" ", "") == "optout"
            await InsightsStore(store.db).set_optout(
                activity.tenant_id or "",
                user_key(turn),
                services.clock(),
                out=out,
            )
            text = (
                "You are still counted, but never named in insights." if out else "You may be named in insights again."
            )
            await turn.reply(notice("Insights opt-out" if out else "Insights opt-in", text))
            return
        team = arg.startswith("team")
        days = PERIODS.get(arg.replace("team", "").strip() or "7d")
        if days is None:
            await turn.reply(notice("Which period?", "Try insights, insights 30d, insights 90d or insights team."))
            return
        if activity.conversation_type != "channel":
            await turn.reply(
                notice(
                    "Insights are about channels",
                    "@mention me in a channel with insights, or search channels with the Channel insights "
                    "messaging extension.",
                )
            )
            return
        channel = activity.channel
        channels = [channel]
        title = activity.channel_name or "This channel"
        if team and activity.team_id:
            channels = [
                c.channel_id or c.conversation_id
                async for c in store.iter_conversations(tenant_id=activity.tenant_id)
                if c.team_id == activity.team_id and c.active
            ] or [channel]
            title = activity.team_name or "This team"
        result = await compute(
            InsightsStore(store.db), channels, tenant_id=activity.tenant_id or "", now=services.clock(), days=days
        )
        members: int | None = None
        try:
            roster = await services.roster(activity.service_url, channel, None)
            members = len(roster) or None
        except Exception:
            logger.info("could not read the roster for the active-members ratio")
        card = render(services, result, title=title, days=days, members=members)
        await turn.reply(Message(text=f"Insights for {title}", card=card))
