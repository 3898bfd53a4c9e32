"""Outreach in the running app: the engine as a background task, the API routes, a clean stop."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.background import background
from bot.connector import BotConnector
from bot.graph.errors import NotFound, PermissionDenied
from bot.http import client_ssl_context
from bot.identity.credentials import AppCredential
from bot.outreach.api import setup_outreach_routes
from bot.outreach.direct import DirectSender
from bot.outreach.engine import (
    NotificationActivities,
    NotInstalled,
    OutreachEngine,
    StoredConversationResolver,
    UserLookup,
)
from bot.outreach.expansion import GroupMembers, Members, TeamRoster
from bot.outreach.installer import GraphInstaller
from bot.outreach.ratelimit import ConversationLimiter, TenantLimiter
from bot.outreach.replicas import ReplicaCoordinator
from bot.services import Services

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutreachRuntime:
    engine: OutreachEngine
    sender: DirectSender  # one card now, same conversations and limits (reminders)


def install_outreach(app: web.Application, services: Services, credential: AppCredential | None) -> OutreachRuntime:
    settings = services.settings
    connector = BotConnector(credential, oauth_scope=settings.bot_oauth_scope, ssl_context=client_ssl_context(settings))
    graph = services.identity.graph if services.identity else None
    installer = None
    group_members = None
    if graph is not None and credential is not None:
        installer = GraphInstaller(
            graph, credential, manifest_id=settings.manifest_app_id, catalog_app_id=settings.teams_catalog_app_id
        )
        group_members = GroupMembers(graph, credential)
    resolver = StoredConversationResolver(
        services.store,
        connector,
        bot_id=f"28:{settings.app_id}",
        service_url=settings.bot_service_url,
        lookup_user=graph_user_lookup(services, credential) if credential is not None else None,
        installer=installer,
    )
    conversations = ConversationLimiter()
    tenants = TenantLimiter(settings.outreach_rps)
    coordinator = ReplicaCoordinator(services.store, tenants, clock=services.clock)
    engine = OutreachEngine(
        services.store,
        connector,
        resolver,
        NotificationActivities(services.store),
        clock=services.clock,
        tenant_limiter=tenants,
        conversation_limiter=conversations,
        members=Members(TeamRoster(services.store, connector, conversations), group_members),
    )
    services.signals.roster = _roster(connector)
    setup_outreach_routes(app, services, engine.wake)
    app.cleanup_ctx.append(background("outreach engine", engine.run, coordinator.run, after=connector.close))
    return OutreachRuntime(engine, DirectSender(connector, resolver, tenants, conversations))


MAX_ROSTER = 10_000  # enough to count a large team; callers keep what they need


def _roster(connector: BotConnector) -> Callable[[str, str, str | None], Awaitable[list[dict[str, Any]]]]:
    """Members of a conversation through the Bot Connector: one (by id) or all of them, page by page."""

    async def roster(service_url: str, conversation_id: str, member_id: str | None) -> list[dict[str, Any]]:
        if member_id is not None:
            return [await connector.member(service_url, conversation_id, member_id)]
        members: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(members) < MAX_ROSTER:
            page, cursor = await connector.paged_members(service_url, conversation_id, continuation=cursor)
            members.extend(page)
            if cursor is None:
                break
        return members[:MAX_ROSTER]

    return roster


def graph_user_lookup(services: Services, credential: AppCredential) -> UserLookup:
    """UPN or email -> Entra object id through Graph (``User.Read.All``), failures as recorded reasons."""
    graph = services.identity.graph if services.identity else None

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
