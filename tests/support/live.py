"""The real bot over real HTTP, authenticating against the emulators exactly as it would against Microsoft.

The ``live_bot`` fixture serves the features of the ``bot_features`` fixture (the app's unless a test module or
conftest overrides it) on the clock of the ``live_clock`` fixture (the production clock unless overridden; platform
tests hand it their :class:`~tests.support.clock.FakeClock`). :func:`serve` starts one for tests with their own
settings.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.platform.feature import FeatureClass
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.server import SERVICES_KEY, create_app
from bot.platform.services import Clock, Services, utc_now
from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator

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
    services: Services | None = None

    def token(
        self,
        *,
        audience: str = APP_ID,
        service_url: str | None = None,
        expires_in: int = 3600,
        key: str = "endorsed",
        issuer: str | None = None,
        extra_claims: dict[str, object] | None = None,
    ) -> str:
        """A channel token as the Bot Framework signs it; each argument breaks one thing for refusal tests."""
        return self.bf.mint_channel_token(
            audience=audience,
            service_url=self.connector.url if service_url is None else service_url,
            expires_in=expires_in,
            key=key,
            issuer=issuer,
            extra_claims=dict(extra_claims or {}),
        )

    async def post(
        self, activity: dict[str, object], token: str | None = None, **headers: str
    ) -> aiohttp.ClientResponse:
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


@asynccontextmanager
async def serve(
    settings: Settings, *, features: Sequence[FeatureClass], clock: Clock = utc_now, port: int | None = None
) -> AsyncIterator[tuple[str, Services]]:
    """The app for ``settings`` and ``features`` on a local port; yields (base URL, its services)."""
    app = await create_app(settings, features=features, credential=credential_from_settings(settings), clock=clock)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), app[SERVICES_KEY]
    finally:
        await server.close()


@pytest.fixture
def live_clock() -> Clock:
    """The clock the live bots run on; override it (platform tests hand over their fake clock)."""
    return utc_now


@pytest.fixture
async def live_bot(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    bot_features: tuple[FeatureClass, ...],
    live_clock: Clock,
) -> AsyncIterator[LiveBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    settings = bot_settings(tmp_path, bf_channel, entra, connector)
    async with (
        serve(settings, features=bot_features, clock=live_clock) as (url, services),
        aiohttp.ClientSession() as session,
    ):
        yield LiveBot(url, session, settings, bf_channel, connector, services)
