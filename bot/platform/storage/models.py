"""Plain, frozen records that cross the storage boundary. No SQL, no botbuilder types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ConversationKind(StrEnum):
    PERSONAL = "personal"
    GROUP_CHAT = "groupChat"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """Where Courier can message proactively: a 1:1 chat, a group chat or a team channel.

    ``reference`` is the Bot Framework ConversationReference as a JSON-ready dict (serialized by the adapter
    seam); everything else is Courier's own view of it, indexed for look-ups.
    """

    conversation_id: str
    tenant_id: str
    kind: ConversationKind
    service_url: str
    reference: dict[str, Any]
    user_aad_object_id: str | None = None  # the user of a personal chat
    team_id: str | None = None  # channel conversations: the team's thread id (19:...@thread.tacv2)
    channel_id: str | None = None  # channel conversations: the channel's id
    name: str | None = None  # team, chat or channel name when Teams says it
    active: bool = True
    installed_at: datetime | None = None
    updated_at: datetime | None = None


class TenantStatus(StrEnum):
    ACTIVE = "active"
    CONSENT_PENDING = "consent_pending"
    CONSENT_DENIED = "consent_denied"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class TenantRecord:
    tenant_id: str
    name: str | None = None
    auth_method: str = "secret"  # secret | certificate | managed_identity
    status: TenantStatus = TenantStatus.ACTIVE
    linked_at: datetime | None = None
    updated_at: datetime | None = None
