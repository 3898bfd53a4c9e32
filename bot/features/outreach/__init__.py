"""Outreach: proactive notifications at Teams' rate limits, exactly once, with delivery and acknowledgement tracking.

In Teams: the Acknowledge button, ``notify status``, ``notify nudge`` and the "Send announcement" messaging extension
action (:mod:`.handlers`); for other systems: ``/api/notifications`` (:mod:`.api`). Both queue through the platform's
outbox (its ledger and delivery engine), with the rules in :mod:`.service`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.features.outreach import cards, handlers
from bot.features.outreach.api import install_api
from bot.features.outreach.engagement import EngagementService
from bot.features.outreach.links import LinkTracker
from bot.features.outreach.service import OutreachService
from bot.platform.feature import Feature
from bot.platform.messaging.ledger import Operation
from bot.platform.services import Services
from bot.platform.teams.router import Router


class Outreach(Feature):
    name = "outreach"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.deps = handlers.OutreachDeps(
            OutreachService(services.outbox, services.store, services.clock),
            EngagementService(services.outbox, services.clock, LinkTracker.from_settings(services.settings)),
        )
        if services.outbox is not None:  # an edited copy that was acknowledged stays acknowledged
            services.outbox.operation_activities.acknowledged_view = self._acknowledged_view

    async def _acknowledged_view(self, card: dict[str, Any], acked_at: datetime, op: Operation) -> dict[str, Any]:
        """The new content with "Acknowledged at ..." under it, as the Acknowledge button left the copy (the time in
        UTC: the clicker's zone is only known during the click)."""
        return cards.acknowledged(self.services.cards, card, cards.local_time(acked_at, None))

    def register(self, router: Router) -> None:
        handlers.register(router, self.services, self.deps)

    def routes(self, app: web.Application) -> None:
        install_api(app, self.services, self.deps.service, self.deps.engagement)
