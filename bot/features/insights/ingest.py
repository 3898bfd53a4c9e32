"""Channel messages as Teams delivers them (resource-specific consent) -> rows for insights."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from bot.features.insights.store import ChannelMessage
from bot.platform.teams.activity import InboundActivity

SNIPPET = 140
_QUESTION_START = re.compile(
    r"^(who|what|when|where|why|how|which|can|could|would|should|does|do|did|is|are|was|were|will|has|have|any(one|body))\b",
    re.IGNORECASE,
)


def plain_text(text: str) -> str:
    """Text without markup, and without @mentions (they are counted, not quoted)."""
    without_mentions = re.sub(r"<at[^>]*>.*?</at>", " ", text or "", flags=re.IGNORECASE | re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", without_mentions))).strip()


def looks_like_question(text: str) -> bool:
    """A message that asks something: it has a question mark, or opens like a question."""
    plain = plain_text(text)
    return "?" in plain or bool(_QUESTION_START.match(plain))


def thread_of(activity: InboundActivity) -> str | None:
    """The thread's root id: Teams names it in the conversation id (``<channel>;messageid=<root>``) and, on a reply,
    in ``replyToId``; a message outside any thread is its own root."""
    return activity.thread_root_id or activity.reply_to_id or activity.id


def is_reply(activity: InboundActivity) -> bool | None:
    """Whether a channel message replies in a thread: Teams gives a new post the id its conversation id names (and
    no ``replyToId``), and a reply ``replyToId`` = the root. None when the activity does not say (the Agents
    Playground gives every message a fresh id and no ``replyToId``): then the first message seen in the thread is
    its root."""
    if activity.reply_to_id:
        return True
    root = activity.thread_root_id
    if root is None or root == activity.id:
        return False
    return None


def channel_message(
    activity: InboundActivity, *, received_at: datetime, reply: bool | None = None
) -> ChannelMessage | None:
    """The insights row for a channel message, or None when it is not one (or names no author). ``reply`` decides
    what :func:`is_reply` could not."""
    if activity.conversation_type != "channel" or not activity.id:
        return None
    thread = thread_of(activity) or activity.id
    created = _timestamp(activity) or received_at
    author = (activity.sender.aad_object_id or activity.sender.id).lower()
    text = plain_text(activity.text)
    known = is_reply(activity)
    return ChannelMessage(
        channel_id=activity.channel,
        message_id=activity.id,
        tenant_id=activity.tenant_id or "",
        team_id=activity.team_id,
        thread_id=thread,
        is_reply=known if known is not None else bool(reply),
        author_id=author,
        author_name=activity.sender.name,
        created_at=created.astimezone(UTC),
        is_question=looks_like_question(activity.text),
        mentions=len(activity.mentions),
        snippet=text[:SNIPPET] or None,
    )


def _timestamp(activity: InboundActivity) -> datetime | None:
    raw = activity.raw.get("timestamp")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
