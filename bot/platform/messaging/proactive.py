"""Proactive messages to a conversation Courier knows, for features that act outside a turn.

Bound to the adapter once it exists (the adapter needs the dispatcher, which needs the services that hold this).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from bot.platform.storage.base import Store
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)


class _Sender(Protocol):
    async def send_proactive(self, reference: dict[str, Any], message: Message) -> str | None: ...

    async def update_proactive(self, reference: dict[str, Any], activity_id: str, message: Message) -> None: ...


class NotDeliverable(RuntimeError):
    pass


class Proactive:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._sender: _Sender | None = None

    def bind(self, sender: _Sender) -> None:
        self._sender = sender

    async def send(self, conversation_id: str, message: Message) -> str | None:
        if self._sender is None:
            raise NotDeliverable("proactive sending is not wired yet")
        record = await self._store.get_conversation(conversation_id)
        if record is None or not record.active:
            raise NotDeliverable(f"Courier is not installed in conversation {conversation_id}")
        return await self._sender.send_proactive(record.reference, message)

    async def update(self, conversation_id: str, activity_id: str, message: Message) -> None:
        """Replace an earlier message of Courier's in a conversation it knows."""
        if self._sender is None:
            raise NotDeliverable("proactive sending is not wired yet")
        record = await self._store.get_conversation(conversation_id)
        if record is None or not record.active:
            raise NotDeliverable(f"Courier is not installed in conversation {conversation_id}")
        await self._sender.update_proactive(record.reference, activity_id, message)
