"""Middleware: tenant gate, error boundary, logging without secrets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.platform.feature import Feature
from bot.platform.graph.errors import PermissionDenied
from bot.platform.settings import Settings
from bot.platform.teams.router import CommandRequest, Router
from bot.platform.teams.turn import Turn
from tests.support.bot import Bot, make_bot
from tests.support.clock import FakeClock
from tests.support.probe import PONG, Probe
from tests.support.turns import TENANT, activity

OTHER_TENANT = "11111111-2222-3333-4444-555555555555"
CONSENT_URL = "https://courier.contoso.com/admin/consent?tenant=t"


class _FailingFeature(Feature):
    name = "failing"

    def register(self, router: Router) -> None:
        @router.command("explode", description="fails", example="explode")
        async def explode(turn: Turn, request: CommandRequest) -> None:
            raise RuntimeError("database password is hunter2")


class _NeedsGraphFeature(Feature):
    name = "needs-graph"

    def register(self, router: Router) -> None:
        @router.command("groupsend", description="needs a Graph permission", example="groupsend")
        async def groupsend(turn: Turn, request: CommandRequest) -> None:
            raise PermissionDenied("GroupMember.Read.All", CONSENT_URL)


@pytest.fixture
async def gated_bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Bot]:
    settings = Settings(dangerously_allow_anonymous=True, allowed_tenants=frozenset({TENANT}))
    made = await make_bot(tmp_path, settings, clock=clock, features=(Probe,))
    yield made
    await made.store.close()


@pytest.fixture
async def failing_bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Bot]:
    settings = Settings(dangerously_allow_anonymous=True)
    made = await make_bot(tmp_path, settings, (_FailingFeature, _NeedsGraphFeature), clock=clock, features=(Probe,))
    yield made
    await made.store.close()


async def test_a_refused_tenant_gets_a_polite_message_and_no_feature_hears_it(gated_bot: Bot) -> None:
    turn = await gated_bot.turn(activity("installationUpdate", action="add", tenant_id=OTHER_TENANT))
    assert "isn't enabled" in turn.texts()
    assert gated_bot.feature(Probe).heard == []
    assert await gated_bot.store.get_conversation("a:1personal-chat") is None


async def test_a_refused_tenants_message_reaches_no_command(gated_bot: Bot) -> None:
    turn = await gated_bot.turn(activity(text="ping", tenant_id=OTHER_TENANT))
    assert "isn't enabled" in turn.texts()
    assert gated_bot.feature(Probe).heard == []


async def test_an_allowed_tenant_gets_through(gated_bot: Bot) -> None:
    turn = await gated_bot.turn(activity(text="ping"))
    assert PONG in turn.texts()
    assert gated_bot.feature(Probe).heard == ["ping"]


async def test_a_failing_handler_gives_a_friendly_card_with_the_correlation_id(
    failing_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        turn = await failing_bot.turn(activity(text="explode"))
    assert turn.state.correlation_id in turn.texts()
    assert "hunter2" not in turn.texts()
    assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_the_bot_keeps_serving_after_a_failure(failing_bot: Bot) -> None:
    await failing_bot.turn(activity(text="explode"))
    turn = await failing_bot.turn(activity(text="ping"))
    assert PONG in turn.texts()


async def test_a_missing_permission_shows_the_consent_card(failing_bot: Bot) -> None:
    turn = await failing_bot.turn(activity(text="groupsend"))
    assert "GroupMember.Read.All" in turn.texts()
    card = turn.cards()[0]
    assert card["actions"][0]["url"] == CONSENT_URL
