"""Proactive messages to a conversation Courier knows (a stored reference), for features acting outside a turn.

A thin face of the outbox's direct lane: the same rate limits as every other send, the same failure type.
"""

from __future__ import annotations

import logging

from bot.platform.messaging.direct import DirectSender
from bot.platform.storage.base import Store
from bot.platform.storage.models import ConversationRecord
from bot.platform.teams.connector import FailureKind, SendFailure
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)


class NotDeliverable(SendFailure):
    """Courier is not (or no longer) installed in that conversation."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(
            0,
            "ConversationUnknown",
            f"Courier is not installed in conversation {conversation_id}",
            FailureKind.PERMANENT,
            None,
            "conversation_unknown",
        )


class Proactive:
    def __init__(self, store: Store, direct: DirectSender) -> None:
        self._store = store
        self._direct = direct

    async def _record(self, conversation_id: str) -> ConversationRecord:
        record = await self._store.get_conversation(conversation_id)
        if record is None or not record.active:
            raise NotDeliverable(conversation_id)
        return record

    async def send(self, conversation_id: str, message: Message) -> str | None:
        """Send to a conversation Courier is installed in; returns the new activity id."""
        record = await self._record(conversation_id)
        sent = await self._direct.send(record.tenant_id, {"conversationId": conversation_id}, message)
        return sent.activity_id

    async def update(self, conversation_id: str, activity_id: str, message: Message) -> None:
        """Replace an earlier message of Courier's in a conversation it knows."""
        record = await self._record(conversation_id)
        await self._direct.update(record.tenant_id, record.service_url, conversation_id, activity_id, message)
