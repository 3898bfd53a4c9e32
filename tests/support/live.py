"""The real bot over real HTTP, authenticating against the emulators exactly as it would against Microsoft."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from app import FEATURES
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.server import create_app
from bot.platform.settings import Settings
from tests.emulators.botframework_login import BotFrameworkChannelEmulator
from tests.emulators.connector import ConnectorEmulator
from tests.emulators.entra import EntraEmulator

APP_ID = "6f1c1a52-2b7e-4f3e-9a55-0c6f4b8c1d01"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "test-secret-" + uuid.uuid4().hex


@dataclass
class LiveBot:
    url: str
    session: aiohttp.ClientSession
    settings: Settings
    bf: BotFrameworkChannelEmulator
    connector: ConnectorEmulator

    def token(self, **overrides: Any) -> str:
        kwargs: dict[str, Any] = {"audience": APP_ID, "service_url": self.connector.url}
        kwargs.update(overrides)
        return self.bf.mint_channel_token(**kwargs)

    async def post(self, activity: dict[str, Any], token: str | None = None, **headers: str) -> aiohttp.ClientResponse:
        all_headers = dict(headers)
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return await self.session.post(f"{self.url}/api/messages", json=activity, headers=all_headers)


def bot_settings(
    tmp_path: Path, bf: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator
) -> Settings:
    return Settings(
        app_id=APP_ID,
        app_password=SECRET,
        app_tenant_id=TENANT,
        host="127.0.0.1",
        port=0,
        database_url=f"sqlite:///{tmp_path / 'courier.db'}",
        bot_openid_metadata_url=bf.metadata_url,
        bot_token_issuer=bf.issuer,
        login_authority_host=entra.url,
        bot_service_url=connector.url,
        log_format="text",
    )


@pytest.fixture
async def live_bot(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator
) -> AsyncIterator[LiveBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    settings = bot_settings(tmp_path, bf_channel, entra, connector)
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield LiveBot(str(server.make_url("")).rstrip("/"), session, settings, bf_channel, connector)
    await server.close()
