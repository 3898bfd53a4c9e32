"""Outreach in Teams: the Acknowledge button and ``notify status``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.services import Services
from bot.storage.outreach import OutreachLedger
from bot.turns.router import CommandRequest, Router
from bot.turns.turn import Message, Turn

logger = logging.getLogger(__name__)


def _local(when: datetime, zone: str | None) -> str:
    try:
        tz = ZoneInfo(zone) if zone else None
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    local = when.astimezone(tz) if tz else when
    return f"{local:%b %d, %H:%M} ({zone or 'UTC'})"


def register(router: Router, services: Services) -> None:
    def ledger() -> OutreachLedger:  # looked up per call: registration must not touch storage
        return services.store.outreach

    @router.action("ack")
    async def acknowledge(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        notification_id = data.get("notification")
        user = turn.activity.sender.aad_object_id  # who clicked, never what the card says
        notification = await ledger().get_notification(notification_id) if isinstance(notification_id, str) else None
        if notification is None or not user:
            return services.cards.render(
                "notice",
                {
                    "app_name": services.settings.app_name,
                    "title": "This announcement is gone",
                    "text": "It may have been cancelled.",
                },
            )
        now = services.clock()
        first = await ledger().acknowledge(notification.id, f"user:{user.lower()}", now)
        if not first:
            logger.info("a repeated or foreign acknowledgement was ignored")
        body = [b for b in notification.card.get("body", []) if isinstance(b, dict)]
        return services.cards.render(
            "acknowledged", {"original_body": body, "when": _local(now, turn.activity.local_timezone)}
        )

    @router.command(
        "notify status",
        description="Delivery totals of a notification",
        example="notify status 3f2a9c…",
        group="Outreach",
    )
    async def status(turn: Turn, request: CommandRequest) -> None:
        notification = await ledger().get_notification(request.args.strip()) if request.args.strip() else None
        if notification is None:
            await turn.reply(
                Message(
                    text="Unknown notification",
                    card=services.cards.render(
                        "notice",
                        {
                            "app_name": services.settings.app_name,
                            "title": "No such notification",
                            "text": "Give the id the API returned, e.g. notify status 3f2a9c…",
                        },
                    ),
                )
            )
            return
        totals = await ledger().totals(notification.id)
        lines = ", ".join(f"{k} {v}" for k, v in sorted(totals.items()) if v)
        await turn.reply(
            Message(
                text=f"Notification {notification.id}",
                card=services.cards.render(
                    "notice",
                    {
                        "app_name": services.settings.app_name,
                        "title": f"Notification {notification.id[:8]}",
                        "text": lines or "Nothing sent yet.",
                    },
                ),
            )
        )
