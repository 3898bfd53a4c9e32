"""The console's rig: the whole app with a public URL (sign-in on), the Entra emulator as the local tenant (its
sign-in page and single sign-on tokens), and Graph for group membership; four people with different rights.

``console_bot`` yields a :class:`ConsoleBot`; ``signed_in`` walks the browser's "Sign in with Microsoft" (auth code
+ PKCE through Courier and Entra's sign-in page) and returns a cookie session, as a browser would have it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app import FEATURES
from bot.features.reminders.store import ACTIVE, Reminder, ReminderStore
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser, sso_token
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.e2e.playground import free_port
from tests.support.live import APP_ID, SECRET, TENANT, bot_settings, serve

API_KEY = "console-test-api-key-0123456789"
SENDER = EntraUser("5e4de3b1-0000-4000-8000-000000000001", "Sam Sender", "sam@contoso.com")
ADMIN = EntraUser("ad0117a5-0000-4000-8000-000000000002", "Ada Admin", "ada@contoso.com")
GROUPIE = EntraUser("960c71e5-0000-4000-8000-000000000003", "Gus Group", "gus@contoso.com")
READER = EntraUser("4ead0e45-0000-4000-8000-000000000004", "Rae Reader", "rae@contoso.com")
SENDERS_GROUP = "5e4d0000-aaaa-4bbb-8ccc-000000000010"
COMMS_TEAM_GROUP = "c0440000-aaaa-4bbb-8ccc-000000000011"  # nested in the senders group; Gus is in it


@dataclass
class ConsoleBot:
    url: str
    session: aiohttp.ClientSession
    settings: Settings
    services: Services
    entra: EntraEmulator
    people: DelegatedState
    graph: GraphEmulator
    connector: ConnectorEmulator
    test_ca: TestCA
    browsers: list[aiohttp.ClientSession] = field(default_factory=list)

    def sso(self, user: EntraUser, **changes: Any) -> str:
        """The token Teams hands the tab from ``authentication.getAuthToken()`` for ``user``."""
        options: dict[str, Any] = {"tenant": TENANT, "resource": f"api://127.0.0.1/{APP_ID}", **changes}
        return sso_token(self.entra, user=user, **options)

    async def signed_in(self, user: EntraUser) -> tuple[aiohttp.ClientSession, str]:
        """A browser session for ``user`` after "Sign in with Microsoft": (the session, its CSRF token)."""
        browser = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(ssl=self.test_ca.client_ssl_context()),
        )
        self.browsers.append(browser)
        self.people.signed_in_user = user
        async with browser.get(f"{self.url}/console/signin") as response:
            assert response.url.path == "/console/", response.url  # back at the console (built or not)
        async with browser.get(f"{self.url}/api/me") as response:
            me = await response.json()
        return browser, str(me["csrfToken"])

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, f"{self.url}{path}", json=json, headers=all_headers) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body


def console_settings(
    tmp_path: Path, bf: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator, port: int
) -> Settings:
    return dataclasses.replace(
        bot_settings(tmp_path, bf, entra, connector),
        public_url=f"http://127.0.0.1:{port}",
        encryption_key="test-encryption-key-" + "x" * 24,
        senders=frozenset({SENDER.oid}),
        senders_group=SENDERS_GROUP,
        admins=frozenset({ADMIN.oid}),
        api_key_hashes=frozenset({hashlib.sha256(API_KEY.encode()).hexdigest()}),
    )


@pytest.fixture
async def console_bot(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra_with_delegated: tuple[EntraEmulator, DelegatedState],
    connector: ConnectorEmulator,
    graph: GraphEmulator,
    test_ca: TestCA,
) -> AsyncIterator[ConsoleBot]:
    entra, people = entra_with_delegated
    entra.register_app(
        APP_ID, tenant=TENANT, secret=SECRET, roles={"https://graph.microsoft.com": ("GroupMember.Read.All",)}
    )
    for user in (SENDER, ADMIN, GROUPIE, READER):
        graph.add_user(user.oid, user.upn, user.name)
    graph.add_group(COMMS_TEAM_GROUP, [GROUPIE.oid])
    graph.add_group(SENDERS_GROUP, [COMMS_TEAM_GROUP])
    port = free_port()
    settings = dataclasses.replace(
        console_settings(tmp_path, bf_channel, entra, connector, port), graph_base_url=graph.url
    )
    async with serve(settings, features=FEATURES, port=port) as (url, services), aiohttp.ClientSession() as session:
        bot = ConsoleBot(url, session, settings, services, entra, people, graph, connector, test_ca)
        try:
            yield bot
        finally:
            for browser in bot.browsers:
                await browser.close()
            people.signed_in_user = None


async def a_reminder(bot: ConsoleBot, owner: str, text: str = "send the report") -> Reminder:
    """A reminder ``owner`` set for themselves, due tomorrow (stored as the reminders feature stores it)."""
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return await ReminderStore(bot.services.store).create(
        Reminder(
            id="",
            tenant_id=TENANT,
            creator_id=owner,
            creator_name=None,
            target_kind="user",
            target_user_id=owner,
            target_name=None,
            conversation_id=None,
            origin_conversation_id=None,
            text=text,
            source_link=None,
            zone="Europe/Paris",
            rule=None,
            anchor=None,
            due_at=due,
            occurrence_at=due,
            status=ACTIVE,
        ),
        datetime.now(UTC),
    )
