"""What Courier remembers about a conversation it was added to, and the events other features hear about it.

Both ``installationUpdate`` and ``conversationUpdate`` arrive when Courier is added (and Teams redelivers), so a
conversation counts as newly installed only when it was unknown or inactive: that is when it is welcomed and
:class:`ConversationInstalled` is published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.platform.events import ConversationInstalled, ConversationRemoved
from bot.platform.storage.models import ConversationKind, ConversationRecord
from bot.platform.teams.activity import InboundActivity

# How the welcome card addresses each kind of conversation.
WELCOME_SCOPES = {
    ConversationKind.PERSONAL: "personal",
    ConversationKind.GROUP_CHAT: "groupChat",
    ConversationKind.CHANNEL: "team",
}


def conversation_record(activity: InboundActivity, reference: dict[str, Any], now: datetime) -> ConversationRecord:
    """The stored reference of the conversation this activity came from (proactive messages go there later)."""
    kind = activity.kind
    conversation_id = activity.conversation_root
    in_channel = kind is ConversationKind.CHANNEL
    return ConversationRecord(
        conversation_id=conversation_id,
        tenant_id=activity.tenant_id or "",
        kind=kind,
        service_url=activity.service_url,
        reference=reference,
        user_aad_object_id=activity.sender.aad_object_id if kind is ConversationKind.PERSONAL else None,
        team_id=activity.team_id if in_channel else None,
        channel_id=activity.channel if in_channel else None,
        name=conversation_name(activity, conversation_id),
        updated_at=now,
    )


def conversation_name(activity: InboundActivity, conversation_id: str) -> str | None:
    if activity.kind is ConversationKind.CHANNEL:
        if activity.channel_name:
            return activity.channel_name
        # Teams names the General channel nowhere: its id is the team's id.
        if activity.team_id in (conversation_id, activity.channel):
            return "General"
        return activity.team_name
    return activity.conversation_name


def is_new_install(before: ConversationRecord | None) -> bool:
    """Unknown to Courier, or known but inactive (removed earlier): welcome it and tell the other features."""
    return before is None or not before.active


def installed_event(record: ConversationRecord) -> ConversationInstalled:
    return ConversationInstalled(
        tenant_id=record.tenant_id,
        conversation_id=record.conversation_id,
        kind=record.kind.value,
        team_id=record.team_id,
        channel_id=record.channel_id,
        user_id=record.user_aad_object_id,
    )


def removed_event(activity: InboundActivity) -> ConversationRemoved:
    """Courier left this conversation; for a team, ``team_id`` says every channel of that team went with it."""
    kind = activity.kind
    return ConversationRemoved(
        tenant_id=activity.tenant_id or "",
        conversation_id=activity.conversation_root,
        kind=kind.value,
        team_id=activity.team_id if kind is ConversationKind.CHANNEL else None,
        user_id=activity.sender.aad_object_id if kind is ConversationKind.PERSONAL else None,
    )
