"""``insights`` in a channel, the channel messages behind it (edits, reactions, deletes), the weekly digest switch,
``insights optout``, and the Channel insights messaging extension (``channelInsights``: finds the channels Courier
is installed in by name and inserts the channel's 7-day card into the message)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.features.insights import digest
from bot.features.insights.cards import insights_card
from bot.features.insights.deps import InsightsDeps
from bot.features.insights.ingest import channel_message, is_reply, looks_like_question, plain_text, thread_of
from bot.features.insights.service import (
    DEFAULT_PERIOD,
    PERIODS,
    OptOut,
    ReadHistory,
    Report,
    UnknownPeriod,
    Weekly,
    next_digest,
    parse_request,
)
from bot.platform.i18n import N_, _
from bot.platform.teams import extension as responses
from bot.platform.teams.router import CommandRequest, Event, ExtensionKind
from bot.platform.teams.turn import InvokeResponse, Message
from bot.platform.time import user_zone
from bot.platform.turns.context import Context, Routes

logger = logging.getLogger(__name__)

Ctx = Context[InsightsDeps]
MAX_RESULTS = 10
SNIPPET = 140


def register(routes: Routes[InsightsDeps]) -> None:
    routes.command(
        "insights",
        description=N_("Activity in this channel: messages, people, replies, unanswered questions"),
        example=N_("insights 30d"),
        group=N_("Insights"),
    )(insights)
    routes.on(Event.CHANNEL_MESSAGE)(ingest)
    routes.on(Event.MESSAGE_UPDATED)(edited)
    routes.on(Event.REACTION)(reaction)
    routes.on(Event.MESSAGE_DELETED)(deleted)
    routes.on(Event.INSTALLED)(installed)
    routes.on(Event.UNINSTALLED)(removed)
    routes.on(Event.CHANNEL_CHANGED)(channel_changed)
    routes.extension(ExtensionKind.QUERY, "channelInsights")(channel_insights)


def _in_channel(ctx: Ctx) -> bool:
    return ctx.activity.conversation_type == "channel"


# -- the command ------------------------------------------------------------------------------------------------
async def insights(ctx: Ctx, request: CommandRequest) -> None:
    match parse_request(request.args):
        case ReadHistory():
            await read_history(ctx)
        case Weekly(switch):
            await weekly(ctx, switch)
        case OptOut(out):
            await opt_out(ctx, out=out)
        case UnknownPeriod():
            await ctx.say(_("Which period?"), _("Try insights, insights 30d, insights 90d or insights team."))
        case Report(days, team):
            await report(ctx, days=days, team=team)


async def report(ctx: Ctx, *, days: int, team: bool) -> None:
    activity = ctx.activity
    if not _in_channel(ctx):
        await ctx.say(
            _("Insights are about channels"),
            _(
                "@mention me in a channel with insights, or search channels with the Channel insights "
                "messaging extension."
            ),
        )
        return
    channels, title = [activity.channel], activity.channel_name or _("This channel")
    if team and activity.team_id:
        channels = await ctx.deps.service.team_channels(activity.tenant_id, activity.team_id) or channels
        title = activity.team_name or _("This team")
    result = await ctx.deps.service.report(channels, tenant_id=ctx.tenant_id, now=ctx.now(), days=days)
    members = await _members(ctx)
    card = insights_card(
        ctx.services.cards, ctx.services.settings.app_name, result, title=title, days=days, members=members
    )
    await ctx.reply(Message(text=_("Insights for {title}", title=title), card=card))


async def _members(ctx: Ctx) -> int | None:
    """How many people the channel has, for the active-members ratio; None when the roster cannot be read."""
    try:
        roster = await ctx.services.roster(ctx.activity.service_url, ctx.activity.channel, None)
    except Exception:
        logger.info("could not read the roster for the active-members ratio")
        return None
    return len(roster) or None


async def read_history(ctx: Ctx) -> None:
    activity = ctx.activity
    if not _in_channel(ctx) or not activity.team_id:
        await ctx.say(_("Backfill works in a channel"), _("@mention me in the channel to read its history."))
        return
    if await ctx.deps.runtime.start_backfill(ctx.tenant_id, activity.team_id, activity.channel):
        await ctx.say(_("Reading this channel's history"), _("I'll post progress here; insights grow as I go."))
    else:
        await ctx.say(_("Backfill unavailable"), _("This Courier has no Graph access (it needs an app id)."))


async def weekly(ctx: Ctx, switch: str) -> None:
    if not _in_channel(ctx):
        await ctx.say(_("The digest is for channels"), _("@mention me in a channel: insights weekly on."))
        return
    channel, jobs = ctx.activity.channel, ctx.services.jobs
    if switch == "off":
        await jobs.cancel(digest.KIND, channel)
        await ctx.say(_("Weekly digest off"), _("No more Monday insights in this channel."))
        return
    if switch not in {"", "on"}:
        await ctx.say(_("Weekly digest"), _("Say insights weekly on, or insights weekly off."))
        return
    if await jobs.get(digest.KIND, channel) is not None:
        await ctx.say(_("Weekly digest already on"), _("It comes every Monday at 09:00."))
        return
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    first = next_digest(ctx.now(), zone)
    await jobs.schedule(
        digest.KIND, channel, first, tenant_id=ctx.tenant_id, payload=digest.payload(zone, ctx.activity.locale)
    )
    await ctx.say(
        _("Weekly digest on"),
        _("Every Monday at 09:00 ({zone}), starting {first}.", zone=zone, first=ctx.words.short_date(first)),
    )


async def opt_out(ctx: Ctx, *, out: bool) -> None:
    await ctx.deps.service.set_optout(ctx.tenant_id, ctx.user_key, ctx.now(), out=out)
    if out:
        await ctx.say(_("Insights opt-out"), _("You are still counted, but never named in insights."))
    else:
        await ctx.say(_("Insights opt-in"), _("You may be named in insights again."))


# -- channel messages and the channel's life ---------------------------------------------------------------------
async def ingest(ctx: Ctx) -> None:
    activity = ctx.activity
    reply = is_reply(activity)
    thread = thread_of(activity)
    if reply is None and thread is not None:  # the activity doesn't say: a thread's first message is its root
        reply = await ctx.deps.store.thread_started(activity.channel, thread)
    row = channel_message(activity, received_at=ctx.now(), reply=reply)
    if row is not None:
        await ctx.deps.store.ingest([row])


async def edited(ctx: Ctx) -> None:
    activity = ctx.activity
    if not _in_channel(ctx) or not activity.id:
        return
    await ctx.deps.store.edited(
        activity.channel,
        activity.id,
        is_question=looks_like_question(activity.text),
        snippet=plain_text(activity.text)[:SNIPPET] or None,
        at=ctx.now(),
    )


async def reaction(ctx: Ctx) -> None:
    activity = ctx.activity
    if not _in_channel(ctx) or not activity.reply_to_id:
        return
    raw = activity.raw
    change = len(raw.get("reactionsAdded") or []) - len(raw.get("reactionsRemoved") or [])
    if change:
        await ctx.deps.store.reacted(activity.channel, activity.reply_to_id, change)


async def deleted(ctx: Ctx) -> None:
    if _in_channel(ctx) and ctx.activity.id:
        await ctx.deps.store.deleted(ctx.activity.channel, ctx.activity.id)


async def installed(ctx: Ctx) -> None:
    """Added to a team: read the channel's history (where this Courier has Graph access)."""
    activity = ctx.activity
    if _in_channel(ctx) and activity.team_id:
        await ctx.deps.runtime.start_backfill(ctx.tenant_id, activity.team_id, activity.channel)


async def removed(ctx: Ctx) -> None:
    if _in_channel(ctx) and ctx.activity.team_id:
        purged = await ctx.deps.store.purge_team(ctx.activity.team_id)
        logger.info("removed from a team: %d channel messages purged", purged)


async def channel_changed(ctx: Ctx) -> None:
    activity = ctx.activity
    if activity.event_type == "channelDeleted" and activity.channel_id_teams:
        purged = await ctx.deps.store.purge_channel(activity.channel_id_teams)
        logger.info("a channel was deleted: %d of its messages purged", purged)


# -- the messaging extension -------------------------------------------------------------------------------------
def _query_text(value: Mapping[str, Any]) -> str:
    for parameter in value.get("parameters") or []:
        if isinstance(parameter, dict) and parameter.get("name") in {"query", "searchText"}:
            text = parameter.get("value")
            return text.strip() if isinstance(text, str) else ""
    return ""


async def channel_insights(ctx: Ctx, value: Mapping[str, Any]) -> InvokeResponse:
    """Channels by name, each with its 7-day card to insert."""
    text = _query_text(value).lower()
    app_name, days = ctx.services.settings.app_name, PERIODS[DEFAULT_PERIOD]
    items = []
    for channel in await ctx.deps.service.search_channels(ctx.activity.tenant_id, text, limit=MAX_RESULTS):
        result = await ctx.deps.service.report([channel.id], tenant_id=ctx.tenant_id, now=ctx.now(), days=days)
        card = insights_card(ctx.services.cards, app_name, result, title=channel.name, days=days)
        preview = _(
            "{messages} messages, {active} active in {days} days",
            messages=ctx.words.number(result.messages),
            active=result.active,
            days=days,
        )
        items.append((card, channel.name, preview))
    if not items:
        if text:
            return responses.message(
                _("No channel matching '{text}' has {app} installed yet.", text=text, app=app_name)
            )
        return responses.message(_("No channel has {app} installed yet.", app=app_name))
    return responses.result_list(items)
