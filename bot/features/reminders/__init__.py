"""Reminders: for oneself, for someone else, for a chat or a channel; in words, from a card or from a message."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.features.reminders import commands
from bot.features.reminders.scheduler import ReminderScheduler
from bot.platform.background import Worker
from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.teams.router import Router


class Reminders(Feature):
    name = "reminders"
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.scheduler: ReminderScheduler | None = None
        if services.outbox is not None:
            self.scheduler = ReminderScheduler(
                services.store,
                services.outbox.direct,
                services.cards,
                clock=services.clock,
                app_name=services.settings.app_name,
                max_lateness=services.settings.reminder_max_lateness,
                card_makers=services.signals.scheduled_cards,
            )
            services.signals.reminders_changed = self.scheduler.wake

    def register(self, router: Router) -> None:
        commands.register(router, self.services)
        commands.register_lifecycle(router, self.services)

    def workers(self) -> Sequence[Worker]:
        return (self.scheduler.run,) if self.scheduler is not None else ()
