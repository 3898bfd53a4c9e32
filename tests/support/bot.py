"""A dispatcher wired as in production (real router, middleware, SQLite store, cards), driven without HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import FEATURES, MIGRATIONS
from bot.platform.cards import CardRenderer
from bot.platform.feature import FeatureClass
from bot.platform.server import build_router
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.platform.storage import open_store
from bot.platform.storage.base import Store
from bot.platform.teams.router import Router
from bot.platform.turns.dispatch import Dispatcher
from bot.platform.turns.middleware import default_middleware
from tests.support.clock import FakeClock
from tests.support.turns import RecordingTurn


@dataclass
class Bot:
    services: Services
    router: Router
    dispatcher: Dispatcher

    @property
    def store(self) -> Store:
        return self.services.store

    async def turn(self, data: dict[str, object]) -> RecordingTurn:
        turn = RecordingTurn.of(data)
        await self.dispatcher.handle(turn)
        return turn


async def make_bot(
    tmp_path: Path,
    settings: Settings,
    extra_features: tuple[FeatureClass, ...] = (),
    *,
    clock: FakeClock | None = None,
) -> Bot:
    """The app's features over a fresh SQLite file, driven without HTTP, on a fake clock (fixed unless moved)."""
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}", migrations=MIGRATIONS)
    services = Services(settings=settings, store=store, cards=CardRenderer(), clock=clock or FakeClock())
    router = build_router(services, (*FEATURES, *extra_features))
    return Bot(services, router, Dispatcher(router, default_middleware(services), services.cards))


@pytest.fixture
def settings() -> Settings:
    return Settings(dangerously_allow_anonymous=True)


@pytest.fixture
async def bot(tmp_path: Path, settings: Settings, clock: FakeClock) -> AsyncIterator[Bot]:
    made = await make_bot(tmp_path, settings, clock=clock)
    yield made
    await made.store.close()
