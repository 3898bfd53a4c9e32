"""A dispatcher wired as in production (real router, middleware, SQLite store, cards), driven without HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import FEATURES
from bot.cards import CardRenderer
from bot.server import build_router
from bot.services import Services
from bot.settings import Settings
from bot.storage import open_store
from bot.storage.base import Store
from bot.turns.dispatch import Dispatcher
from bot.turns.middleware import default_middleware
from bot.turns.router import Router
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


async def make_bot(tmp_path: Path, settings: Settings, extra_features: tuple[object, ...] = ()) -> Bot:
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
    services = Services(settings=settings, store=store, cards=CardRenderer(), clock=lambda: datetime.now(UTC))
    router = build_router(services, (*FEATURES, *extra_features))  # type: ignore[arg-type]
    return Bot(services, router, Dispatcher(router, default_middleware(services), services.cards))


@pytest.fixture
def settings() -> Settings:
    return Settings(dangerously_allow_anonymous=True)


@pytest.fixture
async def bot(tmp_path: Path, settings: Settings) -> AsyncIterator[Bot]:
    made = await make_bot(tmp_path, settings)
    yield made
    await made.store.close()
