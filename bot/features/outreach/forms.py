"""The "Send announcement" form: who it can reach from where it was opened, and what a submitted form says.

From a channel: one post in the channel, or every member of the team 1:1 (the roster, a page at a time); from a
chat: this chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.features.outreach.cards import Audience
from bot.platform import i18n
from bot.platform.i18n import N_, _
from bot.platform.teams.activity import InboundActivity

MAX_TITLE = 120
MAX_TEXT = 2000
AUDIENCE_PHRASES = {"channel": N_("this channel"), "team": N_("every member of the team"), "chat": N_("this chat")}


class FormError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AnnouncementForm:
    title: str
    text: str
    link: str
    audience: str
    ack: bool
    recipient_key: str
    recipient: dict[str, Any]


def audiences(activity: InboundActivity) -> list[Audience]:
    if activity.team_id and activity.channel_id_teams:
        team = activity.team_name or _("this team")
        return [
            Audience(_("This channel (one post)"), "channel"),
            Audience(_("Every member of {team}, in a 1:1 chat", team=team), "team"),
        ]
    return [Audience(_("This chat"), "chat")]


def _recipient(activity: InboundActivity, audience: str) -> tuple[str, dict[str, Any]]:
    if audience == "channel" and activity.team_id and activity.channel_id_teams:
        return f"channel:{activity.team_id}/{activity.channel_id_teams}", {
            "channel": {"teamId": activity.team_id, "channelId": activity.channel_id_teams}
        }
    if audience == "team" and activity.team_id:
        return f"team:{activity.team_id}", {"team": activity.team_id}
    if audience == "chat" and not activity.team_id:
        return f"conversation:{activity.conversation_id}", {"conversationId": activity.conversation_id}
    raise FormError(_("Choose who receives it."))


def form_values(value: Mapping[str, Any]) -> dict[str, str]:
    """The submitted inputs as strings (what the form shows again when something is wrong)."""
    data = value.get("data")
    if not isinstance(data, dict):
        return {}
    return {k: str(v).strip() for k, v in data.items() if isinstance(v, str | bool | int)}


def _check_text(title: str, text: str, link: str) -> None:
    if not title:
        raise FormError(_("A title is required."))
    if len(title) > MAX_TITLE:
        raise FormError(_("The title is longer than {limit} characters.", limit=MAX_TITLE))
    if not text:
        raise FormError(_("A message is required."))
    if len(text) > MAX_TEXT:
        raise FormError(_("The message is longer than {limit} characters.", limit=i18n.current().number(MAX_TEXT)))
    if link:
        parts = urlsplit(link)
        if parts.scheme != "https" or not parts.netloc:
            raise FormError(_("The link must be a full https:// address."))


def parse_form(activity: InboundActivity, values: Mapping[str, str]) -> AnnouncementForm:
    """The announcement the form describes; FormError names the first problem."""
    title, text, link = values.get("title", ""), values.get("text", ""), values.get("link", "")
    _check_text(title, text, link)
    audience = values.get("audience", "")
    key, recipient = _recipient(activity, audience)
    return AnnouncementForm(
        title=title,
        text=text,
        link=link,
        audience=audience,
        ack=values.get("ack") == "true",
        recipient_key=key,
        recipient=recipient,
    )
