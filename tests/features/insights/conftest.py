"""Insights storage runs on SQLite and PostgreSQL alike, with the platform's tables and the insights feature's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.features.insights import Insights
from bot.platform.storage import SqlStore, open_store
from tests.support.databases import database_url

__all__ = ["database_url", "store"]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    assert Insights.migrations is not None
    opened = await open_store(database_url, migrations=(Insights.migrations,))
    yield opened
    await opened.close()
