"""Installation: remember where Courier can speak, greet once, and forget on removal.

``installationUpdate`` and ``conversationUpdate`` both arrive when Courier is added (and Teams redelivers), so
the welcome card goes out only when the conversation is new to Courier or was inactive.
"""

from __future__ import annotations

import logging

from bot.platform.identity.delegated import UserRef
from bot.platform.services import Services
from bot.platform.storage.models import ConversationKind, ConversationRecord, TenantRecord
from bot.platform.teams.router import Event, Router
from bot.platform.teams.turn import Message, Turn

logger = logging.getLogger(__name__)


def conversation_record(turn: Turn) -> ConversationRecord:
    activity = turn.activity
    kind = activity.kind
    conversation_id = activity.conversation_root
    return ConversationRecord(
        conversation_id=conversation_id,
        tenant_id=activity.tenant_id or "",
        kind=kind,
        service_url=activity.service_url,
        reference=turn.conversation_reference(),
        user_aad_object_id=activity.sender.aad_object_id if kind is ConversationKind.PERSONAL else None,
        team_id=activity.team_id if kind is ConversationKind.CHANNEL else None,
        channel_id=activity.channel if kind is ConversationKind.CHANNEL else None,
        name=_name(turn, conversation_id),
    )


def _name(turn: Turn, conversation_id: str) -> str | None:
    activity = turn.activity
    if activity.kind is ConversationKind.CHANNEL:
        if activity.channel_name:
            return activity.channel_name
        # Teams names the General channel nowhere: its id is the team's id.
        if activity.team_id in (conversation_id, activity.channel):
            return "General"
        return activity.team_name
    return activity.conversation_name


def register(router: Router, services: Services) -> None:
    store = services.store

    @router.on(Event.INSTALLED)
    async def installed(turn: Turn) -> None:
        record = conversation_record(turn)
        now = services.clock()
        async with store.transaction() as tx:
            before = await tx.get_conversation(record.conversation_id)
            await tx.upsert_conversation(record)
            if record.tenant_id and await tx.get_tenant(record.tenant_id) is None:
                await tx.upsert_tenant(TenantRecord(tenant_id=record.tenant_id, linked_at=now))
        if before is not None and before.active:
            logger.info("install event for a conversation already known; no second welcome")
            return
        logger.info("installed in a %s conversation", record.kind.value, extra={"tenant_id": record.tenant_id})
        scope = {"personal": "personal", "groupChat": "groupChat", "channel": "team"}[record.kind.value]
        card = services.cards.render(
            "welcome",
            {"app_name": services.settings.app_name, "scope": scope, "user_name": turn.activity.sender.name},
        )
        await turn.reply(Message(text=f"Hi, I'm {services.settings.app_name}.", card=card))

    @router.on(Event.UNINSTALLED)
    async def uninstalled(turn: Turn) -> None:
        activity = turn.activity
        now = services.clock()
        if activity.kind is ConversationKind.CHANNEL and activity.team_id and activity.tenant_id:
            count = await store.deactivate_team(activity.tenant_id, activity.team_id, now)
            logger.info("removed from a team; %d conversations marked inactive", count)
        else:
            conversation_id = activity.conversation_root
            changed = await store.deactivate_conversation(conversation_id, now)
            logger.info("removed from a %s conversation (was active: %s)", activity.kind.value, changed)
        identity = services.identity
        if (
            activity.is_personal
            and identity
            and identity.delegated
            and activity.tenant_id
            and activity.sender.aad_object_id
        ):
            # Uninstalling Courier takes the user's stored sign-in with it.
            await identity.delegated.sign_out(UserRef(activity.tenant_id, activity.sender.aad_object_id))
