"""The weekly digest: a stored job of the platform scheduler per channel that asked for it.

Kind ``insights.digest``, key the channel's conversation id, payload ``{"zone": <IANA zone>}`` (the zone of whoever
turned it on). Each run posts the last 7 days' card to the channel and answers next Monday 09:00 in that zone.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.features.insights.cards import insights_card
from bot.features.insights.deps import InsightsDeps
from bot.features.insights.service import DIGEST_DAYS, next_digest
from bot.platform import i18n
from bot.platform.i18n import N_, _
from bot.platform.jobs import Job
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)

KIND = "insights.digest"
SUMMARY = N_("Weekly insights digest")


def payload(zone: str, locale: str | None = None) -> dict[str, Any]:
    """The zone and the language (of whoever turned it on) the digest is posted in."""
    return {"zone": zone, "locale": locale}


async def digest_card(services: Services, deps: InsightsDeps, channel: str, tenant_id: str) -> dict[str, Any]:
    """The last 7 days of ``channel``, titled with its name when Teams told it."""
    result = await deps.service.report([channel], tenant_id=tenant_id, now=services.clock(), days=DIGEST_DAYS)
    name = await deps.service.channel_name(channel)
    title = _("Weekly digest · {name}", name=name) if name else _("Weekly digest")
    return insights_card(services.cards, services.settings.app_name, result, title=title, days=DIGEST_DAYS)


async def post_digest(services: Services, deps: InsightsDeps, job: Job) -> datetime | None:
    """Run one digest job: post the card, and come back next Monday (or never, once the channel is gone)."""
    if services.proactive is None:
        raise RuntimeError("this process cannot post to channels (no outbox)")
    locale = job.payload.get("locale")
    with i18n.using(locale if isinstance(locale, str) else None):
        card = await digest_card(services, deps, job.key, job.tenant_id)
        summary = _(SUMMARY)
    try:
        await services.proactive.send(job.key, Message(card=card, summary=summary))
    except NotDeliverable as exc:
        logger.info("weekly digest off: %s", exc)
        return None
    return next_digest(services.clock(), str(job.payload.get("zone") or "UTC"))
