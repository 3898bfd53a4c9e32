"""A turn as Courier's features see it: the inbound activity, a way to answer, and per-turn state.

The adapter seam implements :class:`Turn` over botbuilder's TurnContext; tests implement it with a recorder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.platform.teams.activity import InboundActivity

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True, slots=True)
class Message:
    """An outbound message: text, an Adaptive Card, or both (text is the notification fallback)."""

    text: str | None = None
    card: dict[str, Any] | None = None
    summary: str | None = None

    def attachments(self) -> list[dict[str, Any]]:
        if self.card is None:
            return []
        return [{"contentType": ADAPTIVE_CARD, "content": self.card}]

    def to_activity(self) -> dict[str, Any]:
        """The Bot Connector activity for this message (what proactive sends and updates carry)."""
        activity: dict[str, Any] = {"type": "message"}
        if self.card is None:
            if self.text:
                activity["text"] = self.text
            return activity
        # With a card, the text is the notification preview, not a second bubble above the card (as in replies).
        summary = self.summary or self.text
        if summary:
            activity["summary"] = summary
        activity["attachments"] = self.attachments()
        return activity


@dataclass(slots=True)
class InvokeResponse:
    status: int
    body: dict[str, Any] | None = None


@dataclass(slots=True)
class TurnState:
    """Mutable per-turn facts middleware and handlers share."""

    correlation_id: str
    text: str = ""  # normalized command text (mention stripped, HTML removed)
    invoke_response: InvokeResponse | None = None
    handled: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


class Turn(Protocol):
    @property
    def activity(self) -> InboundActivity: ...

    @property
    def state(self) -> TurnState: ...

    async def reply(self, message: Message) -> str | None:
        """Answer in the conversation (in a channel: in the thread). Returns the new activity id."""
        ...

    async def update(self, activity_id: str, message: Message) -> None:
        """Replace a message the bot sent earlier in this conversation."""
        ...

    def conversation_reference(self) -> dict[str, Any]:
        """The Bot Framework ConversationReference for this conversation, JSON-ready, for later proactive use."""
        ...


class QuietTurn:
    """A turn for an activity that takes no answer (a read receipt, another event): answering in it is an error."""

    def __init__(self, activity: InboundActivity, correlation_id: str) -> None:
        self._activity = activity
        self._state = TurnState(correlation_id=correlation_id)

    @property
    def activity(self) -> InboundActivity:
        return self._activity

    @property
    def state(self) -> TurnState:
        return self._state

    async def reply(self, message: Message) -> str | None:
        raise RuntimeError(f"a {self._activity.type} activity takes no answer")

    async def update(self, activity_id: str, message: Message) -> None:
        raise RuntimeError(f"a {self._activity.type} activity takes no answer")

    def conversation_reference(self) -> dict[str, Any]:
        a = self._activity
        reference: dict[str, Any] = {
            "user": {"id": a.sender.id, "name": a.sender.name, "aadObjectId": a.sender.aad_object_id},
            "bot": {"id": a.recipient.id, "name": a.recipient.name},
            "conversation": {"id": a.conversation_id, "conversationType": a.conversation_type, "tenantId": a.tenant_id},
            "channelId": a.channel_id,
            "serviceUrl": a.service_url,
        }
        if a.locale:
            reference["locale"] = a.locale
        return reference


def card_invoke_response(card: dict[str, Any]) -> InvokeResponse:
    """The answer to ``adaptiveCard/action`` that replaces the clicked card in place."""
    return InvokeResponse(
        status=200,
        body={"statusCode": 200, "type": ADAPTIVE_CARD, "value": card},
    )


def message_invoke_response(text: str) -> InvokeResponse:
    """The answer to ``adaptiveCard/action`` that shows a short message and keeps the card."""
    return InvokeResponse(
        status=200,
        body={"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text},
    )
