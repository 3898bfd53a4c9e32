"""Outreach in Teams: the Acknowledge button, ``notify status`` and ``notify nudge``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.features.outreach.nudge import NudgeRefused, nudge
from bot.platform.messaging.ledger import Notification, OutreachLedger
from bot.platform.services import Services
from bot.platform.teams.router import CommandRequest, Router
from bot.platform.teams.turn import Message, Turn
from bot.platform.time import valid_zone

logger = logging.getLogger(__name__)


def _local(when: datetime, zone: str | None) -> str:
    tz = valid_zone(zone)
    local = when.astimezone(tz) if tz else when
    return f"{local:%b %d, %H:%M} ({zone if tz else 'UTC'})"


def register(router: Router, services: Services) -> None:
    def ledger() -> OutreachLedger:  # looked up per call: registration must not touch storage
        return OutreachLedger(services.store.db)

    @router.action("ack")
    async def acknowledge(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        notification_id = data.get("notification")
        user = turn.activity.sender.aad_object_id  # who clicked, never what the card says
        notification = await ledger().get_notification(notification_id) if isinstance(notification_id, str) else None
        if notification is None or not user:
            return services.notice("This announcement is gone", "It may have been cancelled.")
        now = services.clock()
        first = await ledger().acknowledge(notification.id, user, now, conversation_id=turn.activity.conversation_root)
        if not first:
            logger.info("a repeated or foreign acknowledgement was ignored")
        body = [b for b in notification.card.get("body", []) if isinstance(b, dict)]
        return services.cards.render(
            "acknowledged", {"original_body": body, "when": _local(now, turn.activity.local_timezone)}
        )

    def may_manage(turn: Turn) -> bool:
        """Status and nudges need the notification's id (unguessable); with COURIER_SENDERS set, also membership."""
        senders = services.settings.senders
        return not senders or (turn.activity.sender.aad_object_id or "").lower() in senders

    async def notice(turn: Turn, title: str, text: str) -> None:
        card = services.notice(title, text)
        await turn.reply(Message(text=title, card=card))

    async def find(turn: Turn, raw: str, usage: str) -> Notification | None:
        if not may_manage(turn):
            await notice(turn, "Only announcement senders can do that", "Ask your Courier admin to add you.")
            return None
        notification = await ledger().get_notification(raw.strip()) if raw.strip() else None
        if notification is None:
            await notice(turn, "No such notification", f"Give the id the API returned, e.g. {usage}")
        return notification

    @router.command(
        "notify status",
        description="Delivery and acknowledgement totals of a notification",
        example="notify status 3f2a9c…",
        group="Outreach",
    )
    async def status(turn: Turn, request: CommandRequest) -> None:
        notification = await find(turn, request.args, "notify status 3f2a9c…")
        if notification is None:
            return
        card = await status_card(services, notification)
        await turn.reply(Message(text=f"Notification {notification.id}", card=card))

    @router.command(
        "notify nudge",
        description="Remind everyone who has not acknowledged a notification",
        example="notify nudge 3f2a9c…",
        group="Outreach",
    )
    async def nudge_command(turn: Turn, request: CommandRequest) -> None:
        notification = await find(turn, request.args, "notify nudge 3f2a9c…")
        if notification is None:
            return
        title, text = await _nudge(notification)
        await notice(turn, title, text)

    @router.action("nudge")
    async def nudge_action(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        raw = data.get("notification")
        notification = await ledger().get_notification(raw) if isinstance(raw, str) and may_manage(turn) else None
        if notification is None:
            return services.notice("Cannot nudge", "Unknown or not yours.")
        title, text = await _nudge(notification)
        card = await status_card(services, notification)
        card["body"].append({"type": "TextBlock", "text": f"{title}. {text}", "wrap": True, "color": "Accent"})
        return card

    async def _nudge(notification: Notification) -> tuple[str, str]:
        try:
            done = await nudge(ledger(), notification, services.clock())
        except NudgeRefused as exc:
            return "Not nudged", exc.message[:1].upper() + exc.message[1:] + "."
        if done.nudge is None:
            return "Nobody to nudge", "Everyone it reached has acknowledged."
        return "Nudge on its way", f"A reminder goes to {done.recipients:,} people who have not acknowledged yet."


_LABELS = (
    ("sent", "Sent"),
    ("acknowledged", "Acknowledged"),
    ("queued", "Queued"),
    ("claimed", "Sending"),
    ("sending", "Sending"),
    ("not_installed", "Not installed"),
    ("maybe_delivered", "Maybe delivered"),
    ("cancelled", "Cancelled"),
    ("expanded", "Teams and groups expanded"),
)


async def status_card(services: Services, notification: Notification) -> dict[str, Any]:
    ledger = OutreachLedger(services.store.db)
    totals = await ledger.totals(notification.id)
    first, last = await ledger.timing(notification.id)
    facts: dict[str, int] = {}
    for key, label in _LABELS:
        if key == "acknowledged" and not notification.ack_required:
            continue
        if totals.get(key) or key in ("sent", "acknowledged"):
            facts[label] = facts.get(label, 0) + totals.get(key, 0)
    for key, value in sorted(totals.items()):
        if key.startswith("failed:"):
            facts[f"Failed ({key.removeprefix('failed:').replace('_', ' ')})"] = value
    sent = totals.get("sent", 0)
    rendered = [{"title": k, "value": f"{v:,}"} for k, v in facts.items()]
    if notification.ack_required and sent:
        for fact in rendered:
            if fact["title"] == "Acknowledged":
                fact["value"] += f" ({100 * totals.get('acknowledged', 0) // sent}%)"
    seconds = (last - first).total_seconds() if first and last else 0.0
    title = next(
        (str(b["text"]) for b in notification.card.get("body", []) if isinstance(b, dict) and b.get("text")),
        "Notification",
    )
    return services.cards.render(
        "notification_status",
        {
            "app_name": services.settings.app_name,
            "title": title[:120],
            "subtitle": f"Notification {notification.id[:8]} · created {notification.created_at:%Y-%m-%d %H:%M} UTC",
            "facts": rendered,
            "progress": f"Delivered at {sent / seconds:.1f} messages/s." if seconds > 0 else None,
            "notification_id": notification.id,
            "can_nudge": notification.ack_required and notification.parent_id is None,
        },
    )
