"""Installation: remember where Courier can speak, greet once, forget on removal, and tell the other features.

The conversation reference is stored (or deactivated) first; then :class:`ConversationInstalled` or
:class:`ConversationRemoved` is published on the event bus, so any feature can react without knowing this one.
"""

from __future__ import annotations

import logging

from bot.features.installation.cards import Welcome, welcome_card
from bot.features.installation.service import (
    WELCOME_SCOPES,
    conversation_record,
    installed_event,
    is_new_install,
    removed_event,
)
from bot.platform.i18n import _
from bot.platform.identity.delegated import UserRef
from bot.platform.services import Services
from bot.platform.storage.models import ConversationKind, ConversationRecord, TenantRecord
from bot.platform.teams.router import Event, Router
from bot.platform.teams.turn import Message
from bot.platform.turns.context import Context, Routes

logger = logging.getLogger(__name__)


def register(router: Router, services: Services) -> None:
    routes: Routes[None] = Routes(router, services, None)
    routes.on(Event.INSTALLED)(installed)
    routes.on(Event.UNINSTALLED)(uninstalled)


async def installed(ctx: Context[None]) -> None:
    record = conversation_record(ctx.activity, ctx.turn.conversation_reference(), ctx.now())
    if not await _remember(ctx, record):
        logger.info("install event for a conversation already known; no second welcome")
        return
    logger.info("installed in a %s conversation", record.kind.value, extra={"tenant_id": record.tenant_id})
    await ctx.services.events.publish(installed_event(record))
    app_name = ctx.services.settings.app_name
    welcome = Welcome(app_name, WELCOME_SCOPES[record.kind], ctx.activity.sender.name)
    await ctx.reply(Message(text=_("Hi, I'm {app}.", app=app_name), card=welcome_card(ctx.services.cards, welcome)))


async def _remember(ctx: Context[None], record: ConversationRecord) -> bool:
    """Store the conversation (and link its tenant); True when it is new to Courier or was inactive."""
    async with ctx.services.store.transaction() as tx:
        before = await tx.get_conversation(record.conversation_id)
        await tx.upsert_conversation(record)
        if record.tenant_id and await tx.get_tenant(record.tenant_id) is None:
            await tx.upsert_tenant(TenantRecord(tenant_id=record.tenant_id, linked_at=ctx.now()))
    return is_new_install(before)


async def uninstalled(ctx: Context[None]) -> None:
    if await _forget(ctx):
        await ctx.services.events.publish(removed_event(ctx.activity))
    await _sign_out_personal(ctx)


async def _forget(ctx: Context[None]) -> bool:
    """Mark the conversation (or every channel of the team) inactive; True when anything was active."""
    activity, store = ctx.activity, ctx.services.store
    if activity.kind is ConversationKind.CHANNEL and activity.team_id and activity.tenant_id:
        count = await store.deactivate_team(activity.tenant_id, activity.team_id, ctx.now())
        logger.info("removed from a team; %d conversations marked inactive", count)
        return count > 0
    changed = await store.deactivate_conversation(activity.conversation_root, ctx.now())
    logger.info("removed from a %s conversation (was active: %s)", activity.kind.value, changed)
    return changed


async def _sign_out_personal(ctx: Context[None]) -> None:
    """Uninstalling Courier from a personal chat takes the user's stored sign-in with it."""
    activity, identity = ctx.activity, ctx.services.identity
    if not activity.is_personal or identity is None or identity.delegated is None:
        return
    if activity.tenant_id and activity.sender.aad_object_id:
        await identity.delegated.sign_out(UserRef(activity.tenant_id, activity.sender.aad_object_id))
