"""Help: ``help`` lists every command with an example; the welcome card points here."""

from __future__ import annotations

from bot.features.help import handlers
from bot.platform.feature import Feature
from bot.platform.teams.router import Router


class Help(Feature):
    name = "help"

    def register(self, router: Router) -> None:
        handlers.register(router, self.services)
