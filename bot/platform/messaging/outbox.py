"""The one outbox: everything Courier sends outside a turn goes through here.

Built once by the server. It owns the Bot Connector client, the conversation resolver (stored references, new 1:1
chats, UPN look-ups, self-installation through Graph), the per-tenant and per-conversation rate limits, the delivery
engine (the exactly-once ledger for notifications), the replica coordinator, the "one card now" lane that reminders
use, and proactive sends and updates to a conversation Courier knows. Features ask; none calls the connector.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.platform.graph.client import GraphClient
from bot.platform.graph.errors import NotFound, PermissionDenied
from bot.platform.identity.credentials import AppCredential
from bot.platform.messaging.direct import DirectSender
from bot.platform.messaging.engagement import EngagementLedger
from bot.platform.messaging.engine import (
    CardHook,
    NotificationActivities,
    NotInstalled,
    OutreachEngine,
    StoredConversationResolver,
    UserLookup,
)
from bot.platform.messaging.expansion import GroupMembers, Members, TeamRoster, TenantUsers
from bot.platform.messaging.feed import ActivityFeed
from bot.platform.messaging.installer import GraphInstaller
from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.messaging.localtime import LocalDue
from bot.platform.messaging.operations import OperationActivities
from bot.platform.messaging.proactive import Proactive
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter
from bot.platform.messaging.reconcile import GraphReconciler
from bot.platform.messaging.replicas import ReplicaCoordinator
from bot.platform.settings import Settings
from bot.platform.storage.base import Store
from bot.platform.teams.connector import BotConnector
from bot.platform.telemetry import Telemetry

logger = logging.getLogger(__name__)

MAX_ROSTER = 10_000  # enough to count a large team; callers keep what they need


class Outbox:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        credential: AppCredential | None,
        graph: GraphClient | None,
        clock: Callable[[], datetime],
        connector: BotConnector,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.connector = connector
        self.ledger = OutreachLedger(store.db)
        installer = group_members = everyone = feed = reconciler = None
        if graph is not None and credential is not None:
            reconciler = GraphReconciler(graph, credential)  # interrupted sends: read the chat, then decide
            installer = GraphInstaller(
                graph, credential, manifest_id=settings.manifest_app_id, catalog_app_id=settings.teams_catalog_app_id
            )
            group_members = GroupMembers(graph, credential)
            everyone = TenantUsers(graph, credential)
            feed = ActivityFeed(store, graph, credential, app_id=settings.app_id, clock=clock)
        self.conversations = ConversationLimiter()
        self.tenants = TenantLimiter(settings.outreach_rps)
        self.resolver = StoredConversationResolver(
            store,
            connector,
            bot_id=f"28:{settings.app_id}",
            service_url=settings.bot_service_url,
            lookup_user=graph_user_lookup(graph, credential) if credential is not None else None,
            installer=installer,
            tenants=self.tenants,
        )
        self.local_due = LocalDue(store, settings.default_time_zone)
        # What an edited or recalled copy becomes; a feature may register how an acknowledged copy looks.
        self.operation_activities = OperationActivities(self.ledger.operations)
        self.coordinator = ReplicaCoordinator(store, self.tenants, clock=clock, on_released=self.wake)
        self.engagement = EngagementLedger(store.db)
        self.activities = NotificationActivities(store)
        self.engine = OutreachEngine(
            store,
            connector,
            self.resolver,
            self.activities,
            clock=clock,
            tenant_limiter=self.tenants,
            conversation_limiter=self.conversations,
            members=Members(TeamRoster(store, connector, self.conversations), group_members, everyone),
            local_due=self.local_due,
            feed=feed,
            engine_id=self.coordinator.engine_id,
            telemetry=telemetry,
            operation_activities=self.operation_activities,
            service_url=settings.bot_service_url,
            reconciler=reconciler,
            reconcile_after=timedelta(seconds=settings.connector_timeout_seconds),
        )
        self.direct = DirectSender(connector, self.resolver, self.tenants, self.conversations)
        self.proactive = Proactive(store, self.direct)

    def add_card_hook(self, hook: CardHook) -> None:
        """Let a feature change each delivery's copy of a notification's card as it is sent (e.g. sign its links for
        that recipient); the stored card stays as it was."""
        self.activities.add_card_hook(hook)

    def wake(self) -> None:
        """New notifications or deliveries were queued: the engine looks now."""
        self.engine.wake()

    async def roster(self, service_url: str, conversation_id: str, member_id: str | None) -> list[dict[str, Any]]:
        """Members of a conversation through the Bot Connector: one (by id) or all of them (up to 10,000)."""
        if member_id is not None:
            return [await self.connector.member(service_url, conversation_id, member_id)]
        members: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(members) < MAX_ROSTER:
            page, cursor = await self.connector.paged_members(service_url, conversation_id, continuation=cursor)
            members.extend(page)
            if cursor is None:
                break
        return members[:MAX_ROSTER]

    async def close(self) -> None:
        await self.connector.close()


def graph_user_lookup(graph: GraphClient | None, credential: AppCredential) -> UserLookup:
    """UPN or email -> Entra object id through Graph (``User.Read.All``), failures as recorded reasons."""

    async def lookup(tenant_id: str, upn: str) -> str:
        if graph is None:
            raise NotInstalled("upn_needs_graph")
        try:
            user = await graph.app(credential, tenant_id).get(f"/users/{quote(upn)}", permission="User.Read.All")
        except NotFound:
            raise NotInstalled("user_not_found") from None
        except PermissionDenied:
            raise NotInstalled("permission_missing:User.Read.All") from None
        return str(user["id"])

    return lookup
