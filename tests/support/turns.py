"""Build activities as Teams sends them, and a Turn that records what the bot answers (no HTTP)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from bot.platform.teams.activity import InboundActivity, parse_activity
from bot.platform.teams.turn import Message, TurnState
from tests.support.cards import card_texts

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BOT_ID = "28:00000000-0000-0000-0000-0000000000b0"
USER_AAD = "aaaaaaaa-1111-2222-3333-444444444444"
SERVICE_URL = "https://smba.trafficmanager.net/teams/"
_ids = itertools.count(1)


def activity(
    type_: str = "message",
    *,
    text: str | None = None,
    conversation_type: str = "personal",
    conversation_id: str | None = None,
    tenant_id: str = TENANT,
    value: Any = None,
    name: str | None = None,
    mention_bot: bool = False,
    activity_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    conversation_id = (
        conversation_id
        or {
            "personal": "a:1personal-chat",
            "groupChat": "19:group@thread.v2",
            "channel": "19:general@thread.tacv2",
        }[conversation_type]
    )
    data: dict[str, Any] = {
        "type": type_,
        "id": activity_id or f"act-{next(_ids)}",
        "channelId": "msteams",
        "serviceUrl": SERVICE_URL,
        "from": {"id": "29:user-1", "name": "Ana Diaz", "aadObjectId": USER_AAD},
        "recipient": {"id": BOT_ID, "name": "Courier"},
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": tenant_id,
            "isGroup": conversation_type != "personal",
        },
        "channelData": {"tenant": {"id": tenant_id}},
        "locale": "en-US",
    }
    if conversation_type == "channel":
        data["channelData"]["team"] = {"id": "19:general@thread.tacv2", "name": "Sales"}
        data["channelData"]["channel"] = {"id": "19:general@thread.tacv2"}
    if text is not None:
        if mention_bot:
            text = f"<at>Courier</at> {text}"
            data["entities"] = [
                {
                    "type": "mention",
                    "text": "<at>Courier</at>",
                    "mentioned": {"id": BOT_ID, "name": "Courier"},
                }
            ]
        data["text"] = text
    if value is not None:
        data["value"] = value
    if name is not None:
        data["name"] = name
    data.update(extra)
    return data


@dataclass
class Sent:
    kind: str  # "reply" | "update"
    message: Message
    activity_id: str | None = None


@dataclass
class RecordingTurn:
    """A Turn whose answers are recorded for assertions."""

    activity: InboundActivity
    state: TurnState = field(default_factory=lambda: TurnState(correlation_id=uuid.uuid4().hex[:12]))
    sent: list[Sent] = field(default_factory=list)

    @classmethod
    def of(cls, data: dict[str, Any]) -> RecordingTurn:
        return cls(parse_activity(data))

    async def reply(self, message: Message) -> str | None:
        new_id = f"reply-{len(self.sent) + 1}"
        self.sent.append(Sent("reply", message, new_id))
        return new_id

    async def update(self, activity_id: str, message: Message) -> None:
        self.sent.append(Sent("update", message, activity_id))

    def conversation_reference(self) -> dict[str, Any]:
        a = self.activity
        return {
            "user": {"id": a.sender.id, "name": a.sender.name, "aadObjectId": a.sender.aad_object_id},
            "bot": {"id": a.recipient.id, "name": a.recipient.name},
            "conversation": {
                "id": a.conversation_id,
                "conversationType": a.conversation_type,
                "tenantId": a.tenant_id,
            },
            "channelId": a.channel_id,
            "serviceUrl": a.service_url,
        }

    def cards(self) -> list[dict[str, Any]]:
        return [s.message.card for s in self.sent if s.message.card is not None]

    def texts(self) -> str:
        """Every text in every card and message sent, joined (for 'the user sees X' assertions)."""
        out: list[str] = []
        for s in self.sent:
            if s.message.text:
                out.append(s.message.text)
            out.extend(card_texts(s.message.card))
        return "\n".join(out)
