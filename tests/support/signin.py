"""A live bot with a public URL (so sign-in and consent are on), against the Entra and connector emulators."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from app import FEATURES
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.server import SERVICES_KEY, create_app
from bot.platform.services import Services
from tests.e2e.playground import free_port
from tests.emulators.botframework_login import BotFrameworkChannelEmulator
from tests.emulators.connector import ConnectorEmulator
from tests.emulators.entra import EntraEmulator
from tests.emulators.tls import TestCA
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings

USER_OID = "aaaaaaaa-1111-2222-3333-444444444444"


@dataclasses.dataclass
class SignInBot(LiveBot):
    services: Services | None = None

    async def get(self, url: str) -> aiohttp.ClientResponse:
        """A browser step that does not follow redirects (tests follow them explicitly)."""
        return await self.session.get(url, allow_redirects=False)


@pytest.fixture
async def signin_bot(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
) -> AsyncIterator[SignInBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    port = free_port()
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        public_url=f"http://127.0.0.1:{port}",
        encryption_key="test-encryption-key-" + "x" * 24,
    )
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    browser = aiohttp.TCPConnector(ssl=test_ca.client_ssl_context())
    async with aiohttp.ClientSession(connector=browser) as session:
        yield SignInBot(
            f"http://127.0.0.1:{port}", session, settings, bf_channel, connector, services=app[SERVICES_KEY]
        )
    await server.close()


__all__ = ["TENANT", "USER_OID", "SignInBot"]
