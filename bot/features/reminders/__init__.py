"""Reminders: for oneself, for someone else, for a chat or a channel; in words, from a card or from a message.

Handlers live in ``handlers.py``; the rules in ``service.py``; due reminders are a kind of the platform's job
scheduler (``jobs.py``), run by it, never by a loop of this feature's own.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.features.reminders import handlers
from bot.features.reminders.api import install_api
from bot.features.reminders.cards import ReminderCards
from bot.features.reminders.handlers import ReminderDeps
from bot.features.reminders.jobs import ReminderJobs
from bot.features.reminders.service import ReminderService
from bot.features.reminders.store import ReminderStore
from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.teams.router import Router


class Reminders(Feature):
    name = "reminders"
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        cards = ReminderCards(services.cards, services.settings.app_name)
        service = ReminderService(ReminderStore(services.store), services.store, services.clock)
        self.deps = ReminderDeps(service, cards)
        self.jobs: ReminderJobs | None = None
        if services.outbox is not None:  # where nothing is sent (command listing), nothing is due either
            self.jobs = ReminderJobs(
                services.store,
                services.outbox.direct,
                cards,
                clock=services.clock,
                app_name=services.settings.app_name,
                max_lateness=services.settings.reminder_max_lateness,
            )

    def routes(self, app: web.Application) -> None:
        install_api(app, self.services, self.deps.reminders)

    def register(self, router: Router) -> None:
        handlers.register(router, self.services, self.deps)
        if self.jobs is not None:
            self.services.jobs.add_source(self.jobs)
