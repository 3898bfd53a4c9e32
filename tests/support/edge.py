"""Courier's whole app (every feature, sign-in and consent on, an API key) on a given database, for the tests that
throw bad input at every edge: :func:`edge_app` serves it; :func:`stored_rows` counts what it has stored, so a test
can show that a refused request stored nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from app import FEATURES
from bot.platform.storage.base import Database
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.e2e.playground import free_port
from tests.support.live import APP_ID, SECRET, TENANT, serve
from tests.support.signin import SignInBot, signin_settings

API_KEY = "edge-test-api-key-0123456789abcdef"
# Written by background work whatever the requests do (heartbeats, shared pauses): not counted.
BACKGROUND_TABLES = frozenset({"outreach_engines", "outreach_pauses", "schema_migrations"})


@dataclasses.dataclass
class EdgeBot(SignInBot):
    @property
    def db(self) -> Database:
        assert self.services is not None
        return self.services.store.db

    def api_headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}", **extra}

    async def post_raw(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.post(f"{self.url}{path}", data=body, headers=all_headers) as response:
            await response.read()
            return response

    async def activity(self, data: Any) -> aiohttp.ClientResponse:
        """POST ``data`` to /api/messages with a real channel token (Bot Framework's, from its emulator)."""
        async with self.session.post(
            f"{self.url}/api/messages", json=data, headers={"Authorization": f"Bearer {self.token()}"}
        ) as response:
            await response.read()
            return response


@asynccontextmanager
async def edge_app(
    tmp_path: Path,
    database_url: str,
    emulators: tuple[BotFrameworkChannelEmulator, EntraEmulator, ConnectorEmulator, TestCA],
) -> AsyncIterator[EdgeBot]:
    bf, entra, connector, test_ca = emulators
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    port = free_port()
    settings = dataclasses.replace(
        signin_settings(tmp_path, bf, entra, connector, port),
        database_url=database_url,
        api_key_hashes=frozenset({hashlib.sha256(API_KEY.encode()).hexdigest()}),
        allowed_tenants=frozenset({TENANT}),
    )
    browser = aiohttp.TCPConnector(ssl=test_ca.client_ssl_context())
    async with (
        serve(settings, features=FEATURES, port=port) as (url, services),
        aiohttp.ClientSession(connector=browser) as session,
    ):
        yield EdgeBot(url, session, settings, bf, connector, services=services)


async def stored_rows(db: Database, tables: frozenset[str] | None = None) -> dict[str, int]:
    """How many rows each of the app's tables holds (or those of ``tables``), in one read-only query; background
    tables left out."""
    if db.dialect == "postgresql":
        rows = await db.fetch(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    else:
        rows = await db.fetch("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    names = sorted(
        str(r["name"]) for r in rows if r["name"] not in BACKGROUND_TABLES and (tables is None or r["name"] in tables)
    )
    if not names:
        return {}
    counts = " UNION ALL ".join(f"SELECT '{name}' AS name, COUNT(*) AS n FROM \"{name}\"" for name in names)
    return {str(r["name"]): int(r["n"]) for r in await db.fetch(counts)}
