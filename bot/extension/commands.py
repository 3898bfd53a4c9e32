"""Messaging extension commands.

``channelInsights`` (query): finds the channels Courier is installed in by name and inserts a card about one.
The reminder and meeting actions answer with a clear "coming soon" dialog until those features land, so the
manifest can declare them now and Teams shows something honest. "Send announcement" lives with outreach
(:mod:`bot.outreach.compose`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.extension import responses
from bot.services import Services
from bot.storage.models import ConversationKind
from bot.turns.router import ExtensionKind, Router
from bot.turns.turn import InvokeResponse, Turn

logger = logging.getLogger(__name__)

MAX_RESULTS = 10
COMING_SOON = {
    "scheduleMeeting": (
        "Schedule a meeting",
        "Soon you'll find a time that suits everyone and create the Teams meeting here.",
    ),
}


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
            card = services.cards.render(
                "search_result",
                {
                    "title": name,
                    "subtitle": "Channel insights",
                    "text": "Activity insights for this channel (messages, active people, unanswered questions and "
                    "response times) are being prepared.",
                },
            )
            items.append((card, name, "Channel insights"))
            if len(items) >= MAX_RESULTS:
                break
        if not items:
            hint = f" matching '{text}'" if text else ""
            return responses.message(f"No channel{hint} has {services.settings.app_name} installed yet.")
        return responses.result_list(items)

    for command_id, (title, description) in COMING_SOON.items():

        async def coming_soon(
            turn: Turn, value: Mapping[str, Any], title: str = title, description: str = description
        ) -> InvokeResponse:
            card = services.cards.render("coming_soon", {"feature": title, "description": description})
            return responses.task_card(title, card)

        router.extension(ExtensionKind.FETCH_TASK, command_id)(coming_soon)
