"""Room devices watched: an admin points Courier at a channel; Courier follows the presence of the rooms' resource
accounts (Teams Rooms sign in as them) and alerts the channel when one has been offline too long, updating the same
card when it is back. Presence is read in batches as a job kind of the platform's scheduler."""

from __future__ import annotations

from pathlib import Path

from bot.features.rooms import handlers
from bot.features.rooms.cards import RoomCards
from bot.features.rooms.handlers import RoomDeps
from bot.features.rooms.service import RoomWatcher
from bot.features.rooms.store import RoomStore
from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.teams.router import Router
from bot.platform.turns.context import Routes


class Rooms(Feature):
    name = "rooms"
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        store = RoomStore(services.store)
        cards = RoomCards(services.cards, services.settings.app_name)
        self.deps = RoomDeps(store=store, watcher=RoomWatcher(services, store, cards), cards=cards)

    def register(self, router: Router) -> None:
        handlers.register(Routes(router, self.services, self.deps))
        self.deps.watcher.declare_jobs()
