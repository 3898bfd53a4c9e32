"""Nudging: a reminder to everyone an acknowledgement-required notification reached who has not acknowledged.

The nudge is a notification of its own, so it is delivered exactly once by the same engine and limits; its
Acknowledge button records the click on the original. At most one nudge per notification per hour.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.platform.messaging.ledger import Notification, OutreachLedger

logger = logging.getLogger(__name__)

NUDGE_INTERVAL = timedelta(hours=1)


class NudgeRefused(Exception):
    def __init__(self, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Nudged:
    nudge: Notification | None  # None when everybody had acknowledged already
    recipients: int


def nudge_card(original: Notification) -> dict[str, Any]:
    """The original card under a "Reminder" banner; its Acknowledge button still points at the original."""
    card = original.card
    banner = {
        "type": "TextBlock",
        "text": "Reminder: please read and acknowledge",
        "weight": "Bolder",
        "color": "Attention",
        "wrap": True,
    }
    return {**card, "body": [banner, *card.get("body", [])]}


async def nudge(ledger: OutreachLedger, original: Notification, now: datetime) -> Nudged:
    if original.parent_id is not None:
        raise NudgeRefused("this is a nudge already; nudge the original notification")
    if not original.ack_required:
        raise NudgeRefused("this notification did not ask for acknowledgements, so there is nobody to nudge")
    if original.status == "cancelled":
        raise NudgeRefused("this notification was cancelled")
    last = await ledger.last_nudge(original.id)
    if last is not None and now - last < NUDGE_INTERVAL:
        raise NudgeRefused(
            f"it was nudged at {last:%H:%M} UTC; nudge again after {last + NUDGE_INTERVAL:%H:%M} UTC",
            retry_after=last + NUDGE_INTERVAL - now,
        )
    created, count = await ledger.create_nudge(original, card=nudge_card(original), now=now, nudge_id=uuid.uuid4().hex)
    if count == 0:
        # Nobody left to remind: drop the empty nudge so it does not count against the hourly limit.
        await ledger.cancel(created.id, now)
        logger.info("nudge skipped: every recipient had acknowledged")
        return Nudged(None, 0)
    logger.info("nudge queued for %d unacknowledged recipients", count)
    return Nudged(created, count)
