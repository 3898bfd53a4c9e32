"""Rooms in Teams: ``watch rooms here`` and ``unwatch rooms`` (admins), ``rooms status`` (anyone in the tenant)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.features.rooms.cards import RoomCards
from bot.features.rooms.service import RoomsUnavailable, RoomWatcher
from bot.features.rooms.store import RoomStore
from bot.platform.graph.errors import GraphError
from bot.platform.teams.router import CommandRequest
from bot.platform.teams.turn import Message
from bot.platform.turns.context import Context, Refusal, Routes

logger = logging.getLogger(__name__)

ADMINS_ONLY = ("Only Courier admins can do that", "Ask your Courier admin (COURIER_ADMINS) to set up room watching.")
WATCHING = "Watching {count} rooms here"
WATCHING_TEXT = (
    "I'll post an alert in this conversation when a room's Teams Rooms device has been offline for more than "
    "{minutes} min, and update it when the room is back. A summary of outages comes once a day."
)
CANT_WATCH = "I can't watch rooms"
NOT_WATCHING = ("Rooms are not watched", "Nobody asked me to watch rooms. An admin can type watch rooms here.")
UNWATCHED = ("Stopped watching rooms", "No more room alerts or summaries.")
CANT_READ = "I can't read the rooms"
GRAPH_FAILED = "Microsoft Graph answered with an error. Try again in a minute."


@dataclass(frozen=True, slots=True)
class RoomDeps:
    store: RoomStore
    watcher: RoomWatcher
    cards: RoomCards


Ctx = Context[RoomDeps]


def register(routes: Routes[RoomDeps]) -> None:
    routes.command(
        "watch rooms here",
        description="Alert this channel when a Teams Rooms device goes offline (admins)",
        example="watch rooms here",
        group="Rooms",
        guards=(admins_only,),
    )(watch)
    routes.command(
        "unwatch rooms",
        description="Stop room alerts (admins)",
        example="unwatch rooms",
        group="Rooms",
        guards=(admins_only,),
    )(unwatch)
    routes.command("rooms status", description="Every room's device now", example="rooms status", group="Rooms")(status)


async def admins_only(ctx: Context[Any]) -> Refusal | None:
    sender = (ctx.activity.sender.aad_object_id or "").lower()
    return None if sender and sender in ctx.services.settings.admins else Refusal(*ADMINS_ONLY)


def _tenant(ctx: Ctx) -> str:
    return ctx.activity.tenant_id or ctx.services.settings.app_tenant_id


async def watch(ctx: Ctx, request: CommandRequest) -> None:
    sender = (ctx.activity.sender.aad_object_id or "").lower()
    try:
        count = await ctx.deps.watcher.watch(_tenant(ctx), ctx.activity.conversation_root, sender)
    except RoomsUnavailable as exc:
        await ctx.say(CANT_WATCH, str(exc))
        return
    except GraphError as exc:
        logger.warning("rooms: listing rooms failed: %s", exc)
        await ctx.say(CANT_WATCH, GRAPH_FAILED)
        return
    minutes = ctx.services.settings.room_offline_minutes
    await ctx.say(WATCHING.format(count=count), WATCHING_TEXT.format(minutes=minutes))


async def unwatch(ctx: Ctx, request: CommandRequest) -> None:
    stopped = await ctx.deps.watcher.unwatch(_tenant(ctx))
    await ctx.say(*(UNWATCHED if stopped else NOT_WATCHING))


async def status(ctx: Ctx, request: CommandRequest) -> None:
    try:
        rooms = await ctx.deps.watcher.status(_tenant(ctx))
    except RoomsUnavailable as exc:
        await ctx.say(CANT_READ, str(exc))
        return
    except GraphError as exc:
        logger.warning("rooms: reading presence failed: %s", exc)
        await ctx.say(CANT_READ, GRAPH_FAILED)
        return
    await ctx.reply(Message(text="Rooms now", card=ctx.deps.cards.status(rooms)))
