"""Meeting scheduling: find a free time, create the Teams meeting through Graph as the signed-in organizer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from bot.features.meetings import commands
from bot.features.meetings.sync import NOTIFICATION_PATH, MeetingSync
from bot.platform.background import Worker
from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.teams.router import Router


class Meetings(Feature):
    name = "meetings"
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.sync = MeetingSync(services)
        services.signals.meeting_created = self.sync.ensure_subscription

    def register(self, router: Router) -> None:
        commands.register(router, self.services)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(NOTIFICATION_PATH, self.sync.handle)

    def workers(self) -> Sequence[Worker]:
        return (self.sync.run,)

    async def stop(self) -> None:
        await self.sync.settle()
