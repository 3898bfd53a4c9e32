"""Install and removal activities as Teams sends them, and a subscriber that records the events published."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.platform.events import ConversationInstalled, ConversationRemoved, EventBus
from tests.support.turns import BOT_ID, activity


def installed(conversation_type: str = "personal") -> dict[str, Any]:
    """``installationUpdate`` (add): the app was installed in a personal chat, a group chat or a team."""
    return activity("installationUpdate", conversation_type=conversation_type, action="add")


def uninstalled(conversation_type: str = "personal") -> dict[str, Any]:
    return activity("installationUpdate", conversation_type=conversation_type, action="remove")


def bot_added(conversation_type: str = "personal") -> dict[str, Any]:
    """``conversationUpdate`` with Courier among the members added (arrives beside ``installationUpdate``)."""
    return activity("conversationUpdate", conversation_type=conversation_type, membersAdded=[{"id": BOT_ID}])


def bot_removed(conversation_type: str = "channel") -> dict[str, Any]:
    return activity("conversationUpdate", conversation_type=conversation_type, membersRemoved=[{"id": BOT_ID}])


@dataclass
class Heard:
    """What a subscriber of another feature would hear on the event bus."""

    installed: list[ConversationInstalled] = field(default_factory=list)
    removed: list[ConversationRemoved] = field(default_factory=list)

    @classmethod
    def on(cls, events: EventBus) -> Heard:
        heard = cls()
        events.subscribe(ConversationInstalled, heard._installed)
        events.subscribe(ConversationRemoved, heard._removed)
        return heard

    async def _installed(self, event: ConversationInstalled) -> None:
        self.installed.append(event)

    async def _removed(self, event: ConversationRemoved) -> None:
        self.removed.append(event)
