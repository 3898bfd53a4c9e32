"""Outreach: proactive notifications at Teams' rate limits, exactly once, with delivery and acknowledgement tracking."""

from __future__ import annotations

from aiohttp import web

from bot.features.outreach import commands, compose
from bot.features.outreach.api import setup_outreach_routes
from bot.platform.feature import Feature
from bot.platform.teams.router import Router


class Outreach(Feature):
    name = "outreach"

    def register(self, router: Router) -> None:
        commands.register(router, self.services)
        compose.register(router, self.services)

    def routes(self, app: web.Application) -> None:
        outbox = self.services.outbox
        setup_outreach_routes(app, self.services, outbox.wake if outbox is not None else lambda: None)
