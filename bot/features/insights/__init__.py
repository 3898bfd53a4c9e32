"""Channel insights: activity measured over the channel messages Courier sees (read-only)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from bot.features.insights import digest, handlers
from bot.features.insights.backfill import Backfill
from bot.features.insights.deps import InsightsDeps
from bot.features.insights.runtime import InsightsRuntime
from bot.features.insights.service import InsightsService
from bot.features.insights.store import InsightsStore
from bot.platform.background import Worker
from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.teams.router import Router
from bot.platform.turns.context import Routes

logger = logging.getLogger(__name__)


def _backfill(services: Services) -> Backfill | None:
    """Reading channel history needs Graph and an app credential; without them there is no backfill here."""
    identity = services.identity
    if identity is None or identity.graph is None or identity.credential is None:
        return None
    return Backfill(services.store, identity.graph, identity.credential)


class Insights(Feature):
    name = "insights"
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        store = InsightsStore(services.store)
        self.runtime = InsightsRuntime(services, store, _backfill(services))
        self.deps = InsightsDeps(store=store, service=InsightsService(store, services.store), runtime=self.runtime)

    def register(self, router: Router) -> None:
        handlers.register(Routes(router, self.services, self.deps))
        self.services.jobs.handle(digest.KIND, partial(digest.post_digest, self.services, self.deps))

    def workers(self) -> Sequence[Worker]:
        return (self.runtime.run,)
