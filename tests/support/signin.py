"""A live bot with a public URL (so sign-in and consent are on), against the Entra and connector emulators.

Like ``live_bot`` it serves the ``bot_features`` fixture's features on the ``live_clock`` fixture's clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.platform.feature import FeatureClass
from bot.platform.services import Clock
from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.e2e.playground import free_port
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings, serve

USER_OID = "aaaaaaaa-1111-2222-3333-444444444444"


@dataclasses.dataclass
class SignInBot(LiveBot):
    async def get(self, url: str) -> aiohttp.ClientResponse:
        """A browser step that does not follow redirects (tests follow them explicitly)."""
        return await self.session.get(url, allow_redirects=False)


def signin_settings(
    tmp_path: Path, bf: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator, port: int
) -> Settings:
    """The live bot's settings with a public URL on ``port`` and an encryption key: sign-in and consent are on."""
    return dataclasses.replace(
        bot_settings(tmp_path, bf, entra, connector),
        public_url=f"http://127.0.0.1:{port}",
        encryption_key="test-encryption-key-" + "x" * 24,
    )


@pytest.fixture
async def signin_bot(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
    bot_features: tuple[FeatureClass, ...],
    live_clock: Clock,
) -> AsyncIterator[SignInBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    port = free_port()
    settings = signin_settings(tmp_path, bf_channel, entra, connector, port)
    browser = aiohttp.TCPConnector(ssl=test_ca.client_ssl_context())
    async with (
        serve(settings, features=bot_features, clock=live_clock, port=port) as (url, services),
        aiohttp.ClientSession(connector=browser) as session,
    ):
        yield SignInBot(url, session, settings, bf_channel, connector, services=services)


__all__ = ["TENANT", "USER_OID", "SignInBot", "signin_settings"]
