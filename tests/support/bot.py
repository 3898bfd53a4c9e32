"""A dispatcher wired as in production (real router, middleware, SQLite store, cards), driven without HTTP.

Which features it serves is a parameter: the app's (``app.FEATURES``) unless a test says otherwise. Platform tests
override the ``bot_features`` fixture (``tests/platform/conftest.py``) to serve only the probe feature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from bot.platform.cards import CardRenderer
from bot.platform.feature import Feature, FeatureClass, migration_folders
from bot.platform.server import build_features
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.platform.storage import open_store
from bot.platform.storage.base import Store
from bot.platform.teams.router import Router
from bot.platform.turns.dispatch import Dispatcher
from bot.platform.turns.middleware import default_middleware
from tests.support.clock import FakeClock
from tests.support.turns import RecordingTurn

F = TypeVar("F", bound=Feature)


def app_features() -> tuple[FeatureClass, ...]:
    """The app's features, imported only when asked for (platform tests never load a feature)."""
    from app import FEATURES

    return FEATURES


@dataclass
class Bot:
    services: Services
    router: Router
    dispatcher: Dispatcher
    features: list[Feature] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.services.store

    async def turn(self, data: dict[str, object]) -> RecordingTurn:
        turn = RecordingTurn.of(data)
        await self.dispatcher.handle(turn)
        return turn

    def feature(self, kind: type[F]) -> F:
        """The built feature of this class (to look at what it recorded)."""
        for built in self.features:
            if isinstance(built, kind):
                return built
        raise LookupError(f"this bot serves no {kind.__name__} feature")


async def make_bot(
    tmp_path: Path,
    settings: Settings,
    extra_features: tuple[FeatureClass, ...] = (),
    *,
    clock: FakeClock | None = None,
    features: Sequence[FeatureClass] | None = None,
) -> Bot:
    """``features`` (the app's unless told) and ``extra_features`` over a fresh SQLite file, driven without HTTP,
    on a fake clock (fixed unless moved)."""
    classes = (*(app_features() if features is None else features), *extra_features)
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}", migrations=migration_folders(classes))
    services = Services(settings=settings, store=store, cards=CardRenderer(), clock=clock or FakeClock())
    router, built = build_features(services, classes)
    return Bot(services, router, Dispatcher(router, default_middleware(services), services.cards), built)


@pytest.fixture
def bot_features() -> tuple[FeatureClass, ...]:
    """The features the ``bot``, ``live_bot`` and ``signin_bot`` fixtures serve; override it to serve others."""
    return app_features()


@pytest.fixture
def settings() -> Settings:
    return Settings(dangerously_allow_anonymous=True)


@pytest.fixture
async def bot(
    tmp_path: Path, settings: Settings, clock: FakeClock, bot_features: tuple[FeatureClass, ...]
) -> AsyncIterator[Bot]:
    made = await make_bot(tmp_path, settings, clock=clock, features=bot_features)
    yield made
    await made.store.close()
