"""The console's files as Courier serves them: index never cached, hashed assets cached for a year, a strict CSP
that only Teams (and Courier) may frame, and a friendly page (and one start-up line) when there is no build."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.platform.web.console import ConsoleSite
from tests.support.console import ConsoleBot


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text("<!doctype html><title>Courier</title><div id=root></div>")
    (built / "assets" / "index-abc123.js").write_text("console.log('courier')")
    return built


async def _served(bot: ConsoleBot, dist: Path) -> AsyncIterator[str]:
    app = web.Application()
    ConsoleSite(bot.services, dist).install(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def site(console_bot: ConsoleBot, dist: Path) -> AsyncIterator[str]:
    async for url in _served(console_bot, dist):
        yield url


async def test_the_console_page_is_never_cached_and_may_be_framed_by_teams_only(site: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{site}/console/") as response:
        assert response.status == 200 and "<div id=root>" in await response.text()
    assert response.headers["Cache-Control"] == "no-cache"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'self'" in policy and "object-src 'none'" in policy
    assert "connect-src 'self' https://res.cdn.office.net;" in policy
    ancestors = policy.split("frame-ancestors ")[1].split()
    assert ancestors == [
        "'self'",
        "https://teams.microsoft.com",
        "https://*.teams.microsoft.com",
        "https://*.office.com",
        "https://*.cloud.microsoft",
    ]


async def test_every_console_page_path_serves_the_app(site: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/console", "/console/sent", "/console/compose", "/console/mine"):
            async with session.get(f"{site}{path}") as response:
                assert response.status == 200 and "<div id=root>" in await response.text(), path


async def test_hashed_assets_are_cached_for_a_year(site: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{site}/console/assets/index-abc123.js") as response:
        assert response.status == 200 and response.content_type == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("name", ["missing.js", "..%2F..%2Fsecret.js", "index.html"])
async def test_unknown_or_sneaky_asset_names_are_404(site: str, name: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{site}/console/assets/{name}") as response:
        assert response.status == 404


async def test_a_missing_build_is_one_line_at_start_and_a_friendly_page(
    console_bot: ConsoleBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.platform.web.console"):
        async for url in _served(console_bot, tmp_path / "nothing-here"):
            async with aiohttp.ClientSession() as session, session.get(f"{url}/console/") as response:
                assert response.status == 503
                assert "The console isn&#x27;t built" in await response.text()
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.platform.web.console"]
    assert len(lines) == 1 and "scripts/bootstrap.sh --console" in lines[0]
