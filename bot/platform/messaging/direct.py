"""One message to one person or conversation, now, through the outbox's conversation logic and rate limits.

Reminders, digests, meeting cards and every proactive notice use it: the same stored references, 1:1 creation and
self-installation, the same per-tenant pace and per-conversation windows as notifications, so together they never
push a tenant past Teams' limits. It is the priority lane: a saturating broadcast delays it by one grant at most.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.platform.messaging.engine import Resolver
from bot.platform.messaging.ledger import Delivery, DeliveryState
from bot.platform.messaging.ratelimit import ConversationLimiter, Lane, TenantLimiter
from bot.platform.teams.connector import BotConnector, FailureKind, SendFailure
from bot.platform.teams.turn import Message


@dataclass(frozen=True, slots=True)
class Sent:
    service_url: str
    conversation_id: str
    activity_id: str | None


class Cancelled(SendFailure):
    """The caller's ``before_send`` declined: someone else holds the work now. Nothing was sent."""

    def __init__(self) -> None:
        super().__init__(0, "Cancelled", "the caller withdrew before sending", FailureKind.NOT_SENT, None, "cancelled")


def _activity(message: Message | dict[str, Any]) -> dict[str, Any]:
    return message.to_activity() if isinstance(message, Message) else message


class DirectSender:
    def __init__(
        self,
        connector: BotConnector,
        resolver: Resolver,
        tenants: TenantLimiter,
        conversations: ConversationLimiter,
    ) -> None:
        self._connector = connector
        self._resolver = resolver
        self._tenants = tenants
        self._conversations = conversations

    async def send(
        self,
        tenant_id: str,
        recipient: dict[str, Any],
        message: Message | dict[str, Any],
        *,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> Sent:
        """Resolve, wait for the limits, call ``before_send()`` (the caller's committed "sending" mark; returning
        False stops here), then send. Every failure is a :class:`SendFailure` (NotInstalled and Cancelled included)."""
        delivery = Delivery("", "", recipient, tenant_id, DeliveryState.QUEUED, 0, lane=Lane.PRIORITY)
        target = await self._resolver.resolve(delivery)
        await self._pace(tenant_id, target.conversation_id)
        if before_send is not None and not await before_send():
            raise Cancelled()
        activity_id = await self._connector.send(target.service_url, target.conversation_id, _activity(message))
        return Sent(target.service_url, target.conversation_id, activity_id)

    async def update(
        self, tenant_id: str, service_url: str, conversation_id: str, activity_id: str, message: Message
    ) -> None:
        """Replace a message sent earlier, at the same pace as sends."""
        await self._pace(tenant_id, conversation_id)
        await self._connector.update(service_url, conversation_id, activity_id, message.to_activity())

    async def _pace(self, tenant_id: str, conversation_id: str) -> None:
        await self._connector.ready()
        await self._tenants.acquire(tenant_id, Lane.PRIORITY)  # one message now goes before any broadcast
        await self._conversations.acquire(conversation_id)
        await self._tenants.depart(tenant_id)

    def pause(self, tenant_id: str, seconds: float) -> None:
        self._tenants.pause(tenant_id, seconds)
