"""What a feature is to the platform: an object with a name, its migrations, its routes and its lifecycle.

``app.py`` hands the server one list of feature classes. The server builds each with the platform's services, lets it
register its handlers on the router and its HTTP endpoints on the app, runs its background workers beside the app,
and stops it at shutdown. A feature imports the platform, never another feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from aiohttp import web

from bot.platform.background import Worker
from bot.platform.services import Services
from bot.platform.teams.router import Router


class Feature:
    name: ClassVar[str] = ""
    migrations: ClassVar[Path | None] = None  # its folder of numbered SQL files, if it has tables

    def __init__(self, services: Services) -> None:
        self.services = services

    def register(self, router: Router) -> None:
        """Register commands, card actions, events and messaging-extension commands; subscribe to events and
        declare job kinds. Must not touch storage (``app.py package`` lists commands without a database)."""

    def routes(self, app: web.Application) -> None:
        """Add the HTTP endpoints this feature serves."""

    def workers(self) -> Sequence[Worker]:
        """Background loops that run as long as the app (each gets the stop event)."""
        return ()

    async def start(self) -> None:
        """Once storage is open and before requests are served: arm repeating jobs, resume what was left."""

    async def stop(self) -> None:
        """Release what the feature holds (its clients) after its workers stopped."""


FeatureClass = type[Feature]


def migration_folders(features: Sequence[FeatureClass]) -> tuple[Path, ...]:
    return tuple(f.migrations for f in features if f.migrations is not None)
