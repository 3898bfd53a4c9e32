"""Meeting scheduling: find a free time, create the Teams meeting through Graph as the signed-in organizer, and keep
its card in step with the calendar (Graph change notifications, renewals and a reconcile as scheduled jobs)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.features.meetings import handlers
from bot.features.meetings.api import install_api
from bot.features.meetings.cards import MeetingCards
from bot.features.meetings.handlers import MeetingDeps
from bot.features.meetings.service import MeetingService
from bot.features.meetings.store import MeetingStore
from bot.features.meetings.sync import NOTIFICATION_PATH, MeetingSync
from bot.platform.events import SignedIn
from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.teams.router import Router
from bot.platform.turns.context import Routes


class Meetings(Feature):
    name = "meetings"
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        store = MeetingStore(services.store)
        cards = MeetingCards(services.cards, services.settings.app_name)
        self.deps = MeetingDeps(
            store=store,
            service=MeetingService(store, services.clock),
            cards=cards,
            sync=MeetingSync(services, store, cards),
        )

    def register(self, router: Router) -> None:
        handlers.register(Routes(router, self.services, self.deps))
        self.services.events.subscribe(SignedIn, handlers.offer_to_resume(self.services, self.deps))
        self.deps.sync.declare_jobs(self.services.jobs)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(NOTIFICATION_PATH, self.deps.sync.handle)
        install_api(app, self.services, self.deps)

    async def start(self) -> None:
        await self.deps.sync.arm()
