"""Outreach's fixtures: the bot with an outbox (see :mod:`tests.features.outreach.rig`), with and without senders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.platform.settings import Settings
from tests.features.outreach.rig import OutreachBot, make_outreach_bot
from tests.support.clock import FakeClock
from tests.support.turns import USER_AAD


@pytest.fixture
async def everyone_bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[OutreachBot]:
    """COURIER_SENDERS empty: anyone may look up a notification by its id; nobody may send from Teams."""
    made = await make_outreach_bot(tmp_path, Settings(dangerously_allow_anonymous=True), clock)
    yield made
    await made.outbox.close()
    await made.bot.store.close()


@pytest.fixture
async def sender_bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[OutreachBot]:
    """COURIER_SENDERS lists the test user (``USER_AAD``)."""
    settings = Settings(dangerously_allow_anonymous=True, senders=frozenset({USER_AAD}))
    made = await make_outreach_bot(tmp_path, settings, clock)
    yield made
    await made.outbox.close()
    await made.bot.store.close()
