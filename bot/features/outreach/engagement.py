"""Engagement with what outreach delivered: read receipts, reactions and link clicks, recorded in the outbox's
engagement ledger (:mod:`bot.platform.messaging.engagement`) and reported per recipient and in totals.

- Read receipts come from Teams in personal chats only (``ChatMessageReadReceipt.Read.Chat`` in the manifest, and
  only for users who have read receipts on): everything in the chat up to the named message is read.
- Reactions (``messageReaction``) on a delivered copy, 1:1 or a channel post, count per type, added and removed.
- Clicks go through the signed redirect (:mod:`.links`); the first click per recipient and link counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.features.outreach.links import LinkTracker, card_links
from bot.platform.messaging.engagement import Engaged, EngagementFilter, EngagementLedger, EngagementTotals
from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.messaging.outbox import Outbox

logger = logging.getLogger(__name__)

MAX_REACTIONS = 20  # per activity; Teams sends one or two
MAX_REACTION_CHARS = 64
MAX_MESSAGE_ID_CHARS = 256


@dataclass(frozen=True, slots=True)
class Click:
    url: str  # where to send the browser: the stored card's link
    first: bool  # the recipient's first click on this link


def reaction_types(raw: object) -> list[str]:
    """The reaction types of ``reactionsAdded`` / ``reactionsRemoved`` (``[{"type": "like"}, ...]``), sane ones only."""
    if not isinstance(raw, list):
        return []
    found = []
    for item in raw[:MAX_REACTIONS]:
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(kind, str) and 0 < len(kind) <= MAX_REACTION_CHARS:
            found.append(kind)
    return found


class EngagementService:
    def __init__(self, outbox: Outbox | None, clock: Callable[[], datetime], links: LinkTracker) -> None:
        self._outbox = outbox
        self._clock = clock
        self.links = links
        if outbox is not None and links.enabled:
            outbox.add_card_hook(links.card_hook)

    @property
    def _ledger(self) -> OutreachLedger:
        if self._outbox is None:
            raise RuntimeError("this process has no outbox, so no outreach ledger")
        return self._outbox.ledger

    @property
    def _engagement(self) -> EngagementLedger:
        if self._outbox is None:
            raise RuntimeError("this process has no outbox, so no engagement ledger")
        return self._outbox.engagement

    async def read_up_to(self, conversation_id: str, last_read_id: str) -> int:
        """A read receipt: how many deliveries in this chat became read."""
        if not last_read_id or len(last_read_id) > MAX_MESSAGE_ID_CHARS:
            logger.info("a read receipt without a usable lastReadMessageId was ignored")
            return 0
        if self._outbox is None:  # a process without an outbox sent nothing that could be read
            return 0
        read = await self._engagement.mark_read(conversation_id, last_read_id, self._clock())
        if read:
            logger.debug("read receipt: %d deliveries read", read)
        return read

    async def react(
        self, conversation_id: str, message_id: str, *, added: Sequence[str], removed: Sequence[str]
    ) -> str | None:
        """Count reactions on a delivered copy; the notification's id, or None when the message is not one."""
        if not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS or not (added or removed):
            return None
        if self._outbox is None:  # nothing was sent from here, so the message is none of ours
            return None
        return await self._engagement.record_reactions(conversation_id, message_id, added=added, removed=removed)

    async def click(self, token: str) -> Click | None:
        """Follow a click: the stored link it names (recording the first click), or None for anything not signed
        by Courier, or naming a delivery or link that does not exist."""
        ref = self.links.resolve(token)
        if ref is None:
            return None
        notification = await self._ledger.get_notification(ref.notification_id)
        if notification is None or await self._engagement.delivered(ref.notification_id, ref.recipient_key) is None:
            return None
        links = card_links(notification.card)
        if not 0 <= ref.link < len(links):
            return None
        first = await self._engagement.record_click(ref.notification_id, ref.recipient_key, ref.link, self._clock())
        return Click(links[ref.link], first)

    async def totals(self, notification_id: str) -> EngagementTotals:
        return await self._engagement.totals(notification_id)

    async def recipients(
        self, notification_id: str, *, where: EngagementFilter, after: str, limit: int
    ) -> list[Engaged]:
        return await self._engagement.page(notification_id, where=where, after=after, limit=limit)
