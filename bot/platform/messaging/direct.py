"""One card to one person or conversation, now, through outreach's conversation logic and rate limits.

Reminders use it: the same stored references, 1:1 creation and self-installation, the same per-tenant pace and
per-conversation windows as notifications, so the two never push a tenant past Teams' limits together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.platform.messaging.engine import Resolver
from bot.platform.messaging.ledger import Delivery, DeliveryState
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter
from bot.platform.teams.connector import BotConnector


@dataclass(frozen=True, slots=True)
class Sent:
    service_url: str
    conversation_id: str
    activity_id: str | None


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
        self, tenant_id: str, recipient: dict[str, Any], activity: dict[str, Any], *, before_send: Any = None
    ) -> Sent:
        """Resolve, wait for the limits, call ``before_send()`` (the caller's committed "sending" mark; returning
        False stops here), then send. Raises NotInstalled or ConnectorFailure like the engine's deliveries."""
        delivery = Delivery("", "", recipient, tenant_id, DeliveryState.QUEUED, 0)
        target = await self._resolver.resolve(delivery)
        await self._tenants.acquire(tenant_id)
        await self._conversations.acquire(target.conversation_id)
        await self._tenants.depart(tenant_id)
        if before_send is not None and not await before_send():
            raise Cancelled()
        activity_id = await self._connector.send(target.service_url, target.conversation_id, activity)
        return Sent(target.service_url, target.conversation_id, activity_id)

    def pause(self, tenant_id: str, seconds: float) -> None:
        self._tenants.pause(tenant_id, seconds)


class Cancelled(Exception):
    """The caller's ``before_send`` declined: someone else holds the work now."""
