"""Courier's own view of an inbound Bot Framework activity: typed, validated, botbuilder-free.

The adapter seam hands :func:`parse_activity` the activity's JSON; features read :class:`InboundActivity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.platform.storage.models import ConversationKind

MAX_TEXT_CHARS = 28_000


class MalformedActivity(ValueError):
    """The activity JSON lacks something every activity must have, or has the wrong shape."""


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str | None = None
    aad_object_id: str | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    account: Account
    text: str  # e.g. "<at>Courier</at>"


@dataclass(frozen=True, slots=True)
class InboundActivity:
    type: str
    id: str | None
    channel_id: str
    service_url: str
    conversation_id: str
    conversation_type: str  # "personal" | "groupChat" | "channel"
    tenant_id: str | None
    sender: Account
    recipient: Account
    text: str = ""
    value: Any = None
    name: str | None = None  # invoke name, e.g. "adaptiveCard/action"
    action: str | None = None  # installationUpdate: "add" | "remove"
    reply_to_id: str | None = None
    local_timezone: str | None = None
    locale: str | None = None
    mentions: tuple[Mention, ...] = ()
    members_added: tuple[Account, ...] = ()
    members_removed: tuple[Account, ...] = ()
    team_id: str | None = None
    team_name: str | None = None
    channel_id_teams: str | None = None  # channelData.channel.id (Teams channel)
    channel_name: str | None = None
    event_type: str | None = None  # channelData.eventType (teamMemberAdded, channelDeleted, ...)
    conversation_name: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def kind(self) -> ConversationKind:
        if self.conversation_type == "channel":
            return ConversationKind.CHANNEL
        if self.conversation_type == "groupChat":
            return ConversationKind.GROUP_CHAT
        return ConversationKind.PERSONAL

    @property
    def is_personal(self) -> bool:
        return self.kind is ConversationKind.PERSONAL

    @property
    def conversation_root(self) -> str:
        """The conversation without its thread (``;messageid=``): where a post to this chat or channel goes."""
        return self.conversation_id.partition(";messageid=")[0]

    @property
    def channel(self) -> str:
        """The Teams channel's id (channelData), else the conversation root; meaningful in channels only."""
        return self.channel_id_teams or self.conversation_root

    @property
    def thread_root_id(self) -> str | None:
        """In a channel the conversation id carries ``;messageid=<root>`` for a thread."""
        _, sep, root = self.conversation_id.partition(";messageid=")
        return root if sep else None

    def mentions_bot(self) -> bool:
        return any(m.account.id == self.recipient.id for m in self.mentions)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _account(value: Any, where: str, *, required: bool = True) -> Account:
    data = _dict(value)
    account_id = _str(data.get("id"))
    if account_id is None:
        if required:
            raise MalformedActivity(f"{where}.id is missing")
        account_id = ""
    return Account(
        id=account_id,
        name=_str(data.get("name")),
        aad_object_id=_str(data.get("aadObjectId")),
    )


# The messaging-extension invokes that name the command they are for.
_EXTENSION_COMMANDS = frozenset(
    {"composeExtension/query", "composeExtension/fetchTask", "composeExtension/submitAction"}
)


def _check_invoke(name: str, value: Any) -> None:
    """The invokes Courier handles carry the value Teams always sends with them: a card action its verb, a
    messaging-extension command its id. Anything else is malformed (refused at the edge, before anything is kept)."""
    if name == "adaptiveCard/action":
        action = _dict(value).get("action") if isinstance(value, dict) else None
        verb = action.get("verb") if isinstance(action, dict) else None
        if not isinstance(verb, str) or not verb:
            raise MalformedActivity("value.action.verb is missing: an adaptiveCard/action carries its Action.Execute")
    elif name in _EXTENSION_COMMANDS and not (isinstance(value, dict) and isinstance(value.get("commandId"), str)):
        raise MalformedActivity(f"value.commandId is missing: {name} names its command")


def parse_activity(data: Any) -> InboundActivity:
    """Validate and convert an activity's JSON. Raises :class:`MalformedActivity` with the field at fault."""
    if not isinstance(data, dict):
        raise MalformedActivity("the body is not a JSON object")
    activity_type = _str(data.get("type"))
    if activity_type is None:
        raise MalformedActivity("type is missing")
    service_url = _str(data.get("serviceUrl"))
    if service_url is None:
        raise MalformedActivity("serviceUrl is missing")
    conversation = _dict(data.get("conversation"))
    conversation_id = _str(conversation.get("id"))
    if conversation_id is None:
        raise MalformedActivity("conversation.id is missing")
    channel_data = _dict(data.get("channelData"))
    tenant = _str(_dict(channel_data.get("tenant")).get("id")) or _str(conversation.get("tenantId"))
    conversation_type = _str(conversation.get("conversationType")) or (
        "groupChat" if conversation.get("isGroup") else "personal"
    )
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise MalformedActivity("text is not a string")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise MalformedActivity(f"text is longer than {MAX_TEXT_CHARS} characters")

    mentions: list[Mention] = []
    for entity in data.get("entities") or []:
        if isinstance(entity, dict) and entity.get("type") == "mention":
            mentioned = _dict(entity.get("mentioned"))
            if _str(mentioned.get("id")):
                mentions.append(
                    Mention(
                        account=_account(mentioned, "mentioned"),
                        text=_str(entity.get("text")) or "",
                    )
                )
    local_timezone = _str(data.get("localTimezone"))
    for entity in data.get("entities") or []:
        if isinstance(entity, dict) and entity.get("type") == "clientInfo":
            local_timezone = local_timezone or _str(entity.get("timezone"))

    if activity_type == "invoke":
        _check_invoke(_str(data.get("name")) or "", data.get("value"))
    team = _dict(channel_data.get("team"))
    channel = _dict(channel_data.get("channel"))
    return InboundActivity(
        type=activity_type,
        id=_str(data.get("id")),
        channel_id=_str(data.get("channelId")) or "msteams",
        service_url=service_url,
        conversation_id=conversation_id,
        conversation_type=conversation_type,
        tenant_id=tenant.lower() if tenant else None,
        sender=_account(data.get("from"), "from", required=activity_type in {"message", "invoke"}),
        recipient=_account(data.get("recipient"), "recipient", required=False),
        text=text or "",
        value=data.get("value"),
        name=_str(data.get("name")),
        action=_str(data.get("action")),
        reply_to_id=_str(data.get("replyToId")),
        local_timezone=local_timezone,
        locale=_str(data.get("locale")),
        mentions=tuple(mentions),
        members_added=tuple(_account(m, "membersAdded[]") for m in data.get("membersAdded") or []),
        members_removed=tuple(_account(m, "membersRemoved[]") for m in data.get("membersRemoved") or []),
        team_id=_str(team.get("id")),
        team_name=_str(team.get("name")),
        channel_id_teams=_str(channel.get("id")),
        channel_name=_str(channel.get("name")),
        event_type=_str(channel_data.get("eventType")),
        conversation_name=_str(conversation.get("name")),
        raw=data,
    )
