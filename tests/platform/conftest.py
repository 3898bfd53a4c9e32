"""The platform's tests need none of the app's features: the bot rigs serve the probe feature, on the fake clock."""

from __future__ import annotations

import pytest

from bot.platform.feature import FeatureClass
from bot.platform.services import Clock
from tests.support.clock import FakeClock
from tests.support.probe import Probe


@pytest.fixture
def bot_features() -> tuple[FeatureClass, ...]:
    return (Probe,)


@pytest.fixture
def live_clock(clock: FakeClock) -> Clock:
    return clock
