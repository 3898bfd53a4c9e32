"""Insights storage runs on SQLite and PostgreSQL alike, with the platform's tables and the insights feature's; the
digest tests get the bot with a job scheduler and recorded proactive posts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.features.insights import Insights
from bot.platform.storage import SqlStore, open_store
from tests.features.insights.rig import InsightsBot, insights_bot_running
from tests.support.clock import FakeClock
from tests.support.databases import database_url

__all__ = ["database_url", "insights_bot", "store"]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    assert Insights.migrations is not None
    opened = await open_store(database_url, migrations=(Insights.migrations,))
    yield opened
    await opened.close()


@pytest.fixture
async def insights_bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[InsightsBot]:
    async with insights_bot_running(tmp_path, clock) as running:
        yield running
