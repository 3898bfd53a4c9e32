"""Middleware: tenant gate, error boundary, logging without secrets."""

import logging
from pathlib import Path

import pytest

from bot.platform.feature import Feature
from bot.platform.graph.errors import PermissionDenied
from bot.platform.settings import Settings
from bot.platform.teams.router import CommandRequest, Router
from bot.platform.teams.turn import Turn
from tests.support.bot import make_bot
from tests.support.turns import TENANT, activity

OTHER_TENANT = "11111111-2222-3333-4444-555555555555"


async def test_a_refused_tenant_gets_a_polite_message_and_nothing_is_stored(tmp_path: Path) -> None:
    bot = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True, allowed_tenants=frozenset({TENANT})))
    try:
        turn = await bot.turn(activity("installationUpdate", action="add", tenant_id=OTHER_TENANT))
        assert "isn't enabled" in turn.texts() or "not enabled" in turn.texts()
        assert await bot.store.get_conversation("a:1personal-chat") is None
        assert await bot.store.get_tenant(OTHER_TENANT) is None
    finally:
        await bot.store.close()


async def test_an_allowed_tenant_gets_through(tmp_path: Path) -> None:
    bot = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True, allowed_tenants=frozenset({TENANT})))
    try:
        turn = await bot.turn(activity(text="help"))
        assert "Show what I can do" in turn.texts()
    finally:
        await bot.store.close()


class _FailingFeature(Feature):
    name = "failing"

    def register(self, router: Router) -> None:
        @router.command("explode", description="fails", example="explode")
        async def explode(turn: Turn, request: CommandRequest) -> None:
            raise RuntimeError("database password is hunter2")


async def test_a_failing_handler_gives_a_friendly_card_with_the_correlation_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True), (_FailingFeature,))
    try:
        with caplog.at_level(logging.ERROR):
            turn = await bot.turn(activity(text="explode"))
        assert turn.state.correlation_id in turn.texts()
        assert "hunter2" not in turn.texts()
        assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    finally:
        await bot.store.close()


async def test_the_bot_keeps_serving_after_a_failure(tmp_path: Path) -> None:
    bot = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True), (_FailingFeature,))
    try:
        await bot.turn(activity(text="explode"))
        turn = await bot.turn(activity(text="help"))
        assert "Show what I can do" in turn.texts()
    finally:
        await bot.store.close()


class _NeedsGraphFeature(Feature):
    name = "needs-graph"

    def register(self, router: Router) -> None:
        @router.command("groupsend", description="needs a Graph permission", example="groupsend")
        async def groupsend(turn: Turn, request: CommandRequest) -> None:
            raise PermissionDenied("GroupMember.Read.All", "https://courier.contoso.com/admin/consent?tenant=t")


async def test_a_missing_permission_shows_the_consent_card(tmp_path: Path) -> None:
    bot = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True), (_NeedsGraphFeature,))
    try:
        turn = await bot.turn(activity(text="groupsend"))
        assert "GroupMember.Read.All" in turn.texts()
        card = turn.cards()[0]
        assert card["actions"][0]["url"] == "https://courier.contoso.com/admin/consent?tenant=t"
    finally:
        await bot.store.close()
