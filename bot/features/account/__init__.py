"""Account: sign-in and sign-out, admin consent from Teams, and the ``permissions`` card."""

from __future__ import annotations

from bot.features.account import handlers
from bot.platform.feature import Feature
from bot.platform.teams.router import Router


class Account(Feature):
    name = "account"

    def register(self, router: Router) -> None:
        handlers.register(router, self.services)
