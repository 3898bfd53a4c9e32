"""Installation: Courier added to or removed from a chat or a team; conversation references and the welcome card.

It publishes :class:`~bot.platform.events.ConversationInstalled` and
:class:`~bot.platform.events.ConversationRemoved` for any feature that wants to react.
"""

from __future__ import annotations

from bot.features.installation import handlers
from bot.platform.feature import Feature
from bot.platform.teams.router import Router


class Installation(Feature):
    name = "installation"

    def register(self, router: Router) -> None:
        handlers.register(router, self.services)
