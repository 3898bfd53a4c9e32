"""The messaging extension action "Send announcement": authorized senders compose an announcement in Teams.

``fetchTask`` opens a form (title, message, link, audience, acknowledgement); ``submitAction`` validates it and queues
a notification through the same ledger and engine as the API: one post in the channel, or every member of the team
1:1 (the roster, a page at a time), or this chat. Only Entra object ids listed in ``COURIER_SENDERS`` may send.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.features.outreach.api import with_ack
from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.services import Services
from bot.platform.teams import extension as responses
from bot.platform.teams.router import ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Turn

logger = logging.getLogger(__name__)

COMMAND = "sendAnnouncement"
TITLE = "Send announcement"


class FormError(ValueError):
    pass


def _audiences(turn: Turn) -> list[dict[str, str]]:
    activity = turn.activity
    if activity.team_id and activity.channel_id_teams:
        team = activity.team_name or "this team"
        return [
            {"title": "This channel (one post)", "value": "channel"},
            {"title": f"Every member of {team}, in a 1:1 chat", "value": "team"},
        ]
    return [{"title": "This chat", "value": "chat"}]


def _recipient(turn: Turn, audience: str) -> tuple[str, dict[str, Any]]:
    activity = turn.activity
    if audience == "channel" and activity.team_id and activity.channel_id_teams:
        return f"channel:{activity.team_id}/{activity.channel_id_teams}", {
            "channel": {"teamId": activity.team_id, "channelId": activity.channel_id_teams}
        }
    if audience == "team" and activity.team_id:
        return f"team:{activity.team_id}", {"team": activity.team_id}
    if audience == "chat" and not activity.team_id:
        return f"conversation:{activity.conversation_id}", {"conversationId": activity.conversation_id}
    raise FormError("Choose who receives it.")


def _form_values(value: Mapping[str, Any]) -> dict[str, str]:
    data = value.get("data")
    if not isinstance(data, dict):
        return {}
    return {k: str(v).strip() for k, v in data.items() if isinstance(v, str | bool | int)}


def _validate(values: Mapping[str, str]) -> tuple[str, str, str]:
    title, text, link = values.get("title", ""), values.get("text", ""), values.get("link", "")
    if not title:
        raise FormError("A title is required.")
    if len(title) > 120:
        raise FormError("The title is longer than 120 characters.")
    if not text:
        raise FormError("A message is required.")
    if len(text) > 2000:
        raise FormError("The message is longer than 2,000 characters.")
    if link:
        parts = urlsplit(link)
        if parts.scheme != "https" or not parts.netloc:
            raise FormError("The link must be a full https:// address.")
    return title, text, link


def register(router: Router, services: Services) -> None:
    def sender_allowed(turn: Turn) -> bool:
        return (turn.activity.sender.aad_object_id or "").lower() in services.settings.senders

    def form(turn: Turn, values: Mapping[str, str], error: str | None = None) -> InvokeResponse:
        card = services.cards.render(
            "announcement_form",
            {"app_name": services.settings.app_name, "error": error, "values": values, "audiences": _audiences(turn)},
        )
        return responses.task_card(TITLE, card, height="large")

    def not_a_sender() -> InvokeResponse:
        card = services.notice(
            "Only announcement senders can do this",
            "Your Courier admin decides who may send announcements (COURIER_SENDERS). Ask them to add you.",
        )
        return responses.task_card(TITLE, card, height="small")

    @router.extension(ExtensionKind.FETCH_TASK, COMMAND)
    async def open_form(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
        if not sender_allowed(turn):
            logger.info("announcement form refused: the user is not a sender")
            return not_a_sender()
        return form(turn, {})

    @router.extension(ExtensionKind.SUBMIT_ACTION, COMMAND)
    async def submit(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
        if not sender_allowed(turn):
            return not_a_sender()
        values = _form_values(value)
        try:
            title, text, link = _validate(values)
            key, recipient = _recipient(turn, values.get("audience", ""))
        except FormError as exc:
            return form(turn, values, str(exc))
        sender_name = turn.activity.sender.name or "Announcement"
        card = services.cards.render(
            "announcement", {"sender": sender_name, "title": title, "text": text, "link": link or None}
        )
        notification_id = uuid.uuid4().hex
        ack = values.get("ack") == "true"
        if ack:
            card = with_ack(card, notification_id)
        now = services.clock()
        notification, created = await OutreachLedger(services.store.db).create_notification(
            tenant_id=turn.activity.tenant_id or services.settings.app_tenant_id or "",
            sender=f"teams:{(turn.activity.sender.aad_object_id or '').lower()}",
            idempotency_key=f"teams:{turn.activity.id}",  # Teams may redeliver the same submit
            card=card,
            ack_required=ack,
            send_at=now,
            now=now,
            recipients=[(key, recipient)],
            notification_id=notification_id,
        )
        logger.info("announcement queued from Teams", extra={"created": created})
        audience = {"channel": "this channel", "team": "every member of the team", "chat": "this chat"}[
            values.get("audience", "chat")
        ]
        return responses.message(f"Announcement queued for {audience}. Track it with: notify status {notification.id}")
