"""Messaging extension commands.

``channelInsights`` (query): finds the channels Courier is installed in by name and inserts the channel's insights
card (last 7 days) into the message.
The action commands live with their features: "Remind me about this" with reminders, "Schedule a meeting" with
meetings, "Send announcement" with outreach.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.features.insights.commands import render as render_insights
from bot.features.insights.metrics import compute
from bot.features.insights.store import InsightsStore
from bot.platform.services import Services
from bot.platform.storage.models import ConversationKind
from bot.platform.teams import extension as responses
from bot.platform.teams.router import ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Turn

logger = logging.getLogger(__name__)

MAX_RESULTS = 10


def _query_text(value: Mapping[str, Any]) -> str:
    for parameter in value.get("parameters") or []:
        if isinstance(parameter, dict) and parameter.get("name") in {"query", "searchText"}:
            text = parameter.get("value")
            return text.strip() if isinstance(text, str) else ""
    return ""


def register(router: Router, services: Services) -> None:
    @router.extension(ExtensionKind.QUERY, "channelInsights")
    async def channel_insights(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
        text = _query_text(value).lower()
        tenant = turn.activity.tenant_id
        items = []
        async for conversation in services.store.iter_conversations(tenant_id=tenant, kind=ConversationKind.CHANNEL):
            name = conversation.name or "Channel"
            if text and text not in name.lower():
                continue
            channel = conversation.channel_id or conversation.conversation_id
            result = await compute(
                InsightsStore(services.store.db), [channel], tenant_id=tenant or "", now=services.clock(), days=7
            )
            card = render_insights(services, result, title=name, days=7, members=None)
            preview = f"{result.messages:,} messages, {result.active} active in 7 days"
            items.append((card, name, preview))
            if len(items) >= MAX_RESULTS:
                break
        if not items:
            hint = f" matching '{text}'" if text else ""
            return responses.message(f"No channel{hint} has {services.settings.app_name} installed yet.")
        return responses.result_list(items)
