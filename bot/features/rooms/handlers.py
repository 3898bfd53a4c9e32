"""Rooms in Teams: ``watch rooms here`` and ``unwatch rooms`` (admins), ``rooms status`` (anyone in the tenant)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.features.rooms.cards import RoomCards
from bot.features.rooms.service import RoomsUnavailable, RoomWatcher
from bot.features.rooms.store import RoomStore
from bot.platform.graph.errors import GraphError
from bot.platform.i18n import N_, _
from bot.platform.teams.router import CommandRequest
from bot.platform.teams.turn import Message
from bot.platform.turns.context import Context, Refusal, Routes

logger = logging.getLogger(__name__)

ADMINS_ONLY = (
    N_("Only Courier admins can do that"),
    N_("Ask your Courier admin (COURIER_ADMINS) to set up room watching."),
)
WATCHING = N_("Watching {count} rooms here")
WATCHING_TEXT = N_(
    "I'll post an alert in this conversation when a room's Teams Rooms device has been offline for more than "
    "{minutes} min, and update it when the room is back. A summary of outages comes once a day."
)
CANT_WATCH = N_("I can't watch rooms")
NOT_WATCHING = (N_("Rooms are not watched"), N_("Nobody asked me to watch rooms. An admin can type watch rooms here."))
UNWATCHED = (N_("Stopped watching rooms"), N_("No more room alerts or summaries."))
CANT_READ = N_("I can't read the rooms")
GRAPH_FAILED = N_("Microsoft Graph answered with an error. Try again in a minute.")


@dataclass(frozen=True, slots=True)
class RoomDeps:
    store: RoomStore
    watcher: RoomWatcher
    cards: RoomCards


Ctx = Context[RoomDeps]


def register(routes: Routes[RoomDeps]) -> None:
    routes.command(
        "watch rooms here",
        description=N_("Alert this channel when a Teams Rooms device goes offline (admins)"),
        example="watch rooms here",
        group=N_("Rooms"),
        guards=(admins_only,),
    )(watch)
    routes.command(
        "unwatch rooms",
        description=N_("Stop room alerts (admins)"),
        example="unwatch rooms",
        group=N_("Rooms"),
        guards=(admins_only,),
    )(unwatch)
    routes.command(
        "rooms status", description=N_("Every room's device now"), example="rooms status", group=N_("Rooms")
    )(status)


async def admins_only(ctx: Context[Any]) -> Refusal | None:
    sender = (ctx.activity.sender.aad_object_id or "").lower()
    return None if sender and sender in ctx.services.settings.admins else Refusal(_(ADMINS_ONLY[0]), _(ADMINS_ONLY[1]))


def _tenant(ctx: Ctx) -> str:
    return ctx.activity.tenant_id or ctx.services.settings.app_tenant_id


async def watch(ctx: Ctx, request: CommandRequest) -> None:
    sender = (ctx.activity.sender.aad_object_id or "").lower()
    try:
        count = await ctx.deps.watcher.watch(_tenant(ctx), ctx.activity.conversation_root, sender)
    except RoomsUnavailable as exc:
        await ctx.say(_(CANT_WATCH), str(exc))
        return
    except GraphError as exc:
        logger.warning("rooms: listing rooms failed: %s", exc)
        await ctx.say(_(CANT_WATCH), _(GRAPH_FAILED))
        return
    minutes = ctx.services.settings.room_offline_minutes
    await ctx.say(_(WATCHING, count=count), _(WATCHING_TEXT, minutes=minutes))


async def unwatch(ctx: Ctx, request: CommandRequest) -> None:
    stopped = await ctx.deps.watcher.unwatch(_tenant(ctx))
    title, text = UNWATCHED if stopped else NOT_WATCHING
    await ctx.say(_(title), _(text))


async def status(ctx: Ctx, request: CommandRequest) -> None:
    try:
        rooms = await ctx.deps.watcher.status(_tenant(ctx))
    except RoomsUnavailable as exc:
        await ctx.say(_(CANT_READ), str(exc))
        return
    except GraphError as exc:
        logger.warning("rooms: reading presence failed: %s", exc)
        await ctx.say(_(CANT_READ), _(GRAPH_FAILED))
        return
    await ctx.reply(Message(text=_("Rooms now"), card=ctx.deps.cards.status(rooms)))
