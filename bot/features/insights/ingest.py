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


def channel_message(activity: InboundActivity, *, received_at: datetime) -> ChannelMessage | None:
    """The insights row for a channel message, or None when it is not one (or names no author)."""
    if activity.conversation_type != "channel" or not activity.id:
        return None
    channel = activity.channel
    thread = activity.thread_root_id or activity.id
    created = _timestamp(activity) or received_at
    author = (activity.sender.aad_object_id or activity.sender.id).lower()
    text = plain_text(activity.text)
    return ChannelMessage(
        channel_id=channel,
        message_id=activity.id,
        tenant_id=activity.tenant_id or "",
        team_id=activity.team_id,
        thread_id=thread,
        is_reply=activity.reply_to_id is not None and thread != activity.id,
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
