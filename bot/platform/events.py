"""Typed events between features: one publishes, any number subscribe, none knows the others.

Features never import each other. When something one of them does matters to another (a person signed in, Courier
was added to a team), the first publishes an event defined here and the others subscribe at registration::

    events.subscribe(SignedIn, resume_pending_meeting)
    await events.publish(SignedIn(user=..., conversation_id=..., name=...))

A subscriber's failure is logged and does not stop the others, nor the publisher.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.platform.identity.delegated import SignedIn

__all__ = ["ConsentChanged", "ConversationInstalled", "ConversationRemoved", "EventBus", "SignedIn"]

logger = logging.getLogger(__name__)

# SignedIn (bot.platform.identity.delegated): someone finished delegated sign-in (user, the conversation they asked
# from, their name); published by the sign-in callback.


@dataclass(frozen=True, slots=True)
class ConversationInstalled:
    """Courier was added to a personal chat, a group chat or a team (its channels are conversations)."""

    tenant_id: str
    conversation_id: str
    kind: str  # "personal" | "groupChat" | "channel"
    team_id: str | None = None
    channel_id: str | None = None
    user_id: str | None = None  # the person of a personal chat


@dataclass(frozen=True, slots=True)
class ConversationRemoved:
    """Courier was removed from a conversation (uninstalled, removed from the team, the channel deleted)."""

    tenant_id: str
    conversation_id: str
    kind: str
    team_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentChanged:
    """An admin granted or declined admin consent for a tenant."""

    tenant_id: str
    granted: bool
    missing: tuple[str, ...] = field(default_factory=tuple)


E = TypeVar("E")
Subscriber = Callable[[E], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[type[Any], list[Callable[[Any], Awaitable[None]]]] = {}

    def subscribe(self, kind: type[E], subscriber: Subscriber[E]) -> None:
        self._subscribers.setdefault(kind, []).append(subscriber)

    def subscribers(self, kind: type[Any]) -> int:
        return len(self._subscribers.get(kind, ()))

    async def publish(self, event: object) -> None:
        for subscriber in list(self._subscribers.get(type(event), ())):
            try:
                await subscriber(event)
            except Exception:
                logger.exception("a subscriber of %s failed", type(event).__name__)
