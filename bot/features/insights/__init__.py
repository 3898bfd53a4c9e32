"""Channel insights: activity measured over the channel messages Courier sees (read-only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.features.insights import commands, extension
from bot.features.insights.backfill import Backfill
from bot.features.insights.runtime import InsightsRuntime
from bot.platform.background import Worker
from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.teams.router import Router


class Insights(Feature):
    name = "insights"
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        identity = services.identity
        graph, credential = (identity.graph, identity.credential) if identity else (None, None)
        backfill = Backfill(services.store, graph, credential) if graph is not None and credential is not None else None
        self.runtime = InsightsRuntime(services, backfill)
        services.signals.backfill = self.runtime.start_backfill

    def register(self, router: Router) -> None:
        commands.register(router, self.services)
        extension.register(router, self.services)

    def workers(self) -> Sequence[Worker]:
        return (self.runtime.run,)
