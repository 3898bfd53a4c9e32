"""Outreach: proactive notifications at Teams' rate limits, exactly once, with delivery and acknowledgement tracking.

In Teams: the Acknowledge button, ``notify status``, ``notify nudge`` and the "Send announcement" messaging extension
action (:mod:`.handlers`); for other systems: ``/api/notifications`` (:mod:`.api`). Both queue through the platform's
outbox (its ledger and delivery engine), with the rules in :mod:`.service`.
"""

from __future__ import annotations

from aiohttp import web

from bot.features.outreach import handlers
from bot.features.outreach.api import install_api
from bot.features.outreach.engagement import EngagementService
from bot.features.outreach.links import LinkTracker
from bot.features.outreach.service import OutreachService
from bot.platform.feature import Feature
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

    def register(self, router: Router) -> None:
        handlers.register(router, self.services, self.deps)

    def routes(self, app: web.Application) -> None:
        install_api(app, self.services, self.deps.service, self.deps.engagement)
