"""The live bot for meetings: real HTTP, sign-in on (a public URL), Graph's calendar emulated, on a fake clock.

Entra (delegated), Graph (calendar and subscriptions) and the Bot Connector are emulators; the bot runs as in
production (``create_app``), its job scheduler included, with the injected :class:`FakeClock`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from app import FEATURES
from bot.features.meetings import Meetings
from bot.features.meetings.handlers import MeetingDeps
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.identity.delegated import DelegatedAuth, UserRef
from bot.platform.server import FEATURES_KEY, SERVICES_KEY, create_app
from bot.platform.services import Services
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser
from bot.sandbox.emulators.graph_calendar import CalendarState
from bot.sandbox.emulators.tls import TestCA
from tests.e2e.playground import free_port
from tests.support.clock import FakeClock
from tests.support.live import APP_ID, SECRET, TENANT, bot_settings
from tests.support.signin import USER_OID, SignInBot
from tests.support.turns import activity

ANA = EntraUser(oid=USER_OID, name="Ana Diaz", upn="ana@contoso.com")
ORGANIZER = UserRef(TENANT, USER_OID)
BEN_ID, BEN_AAD, BEN_MAIL = "29:ben", "bbbbbbbb-1111-2222-3333-444444444444", "ben@contoso.com"
CONVERSATION = "a:1personal-chat"


@dataclasses.dataclass
class MeetingBot(SignInBot):
    calendar: CalendarState = dataclasses.field(kw_only=True)
    clock: FakeClock = dataclasses.field(kw_only=True)
    meetings: Meetings = dataclasses.field(kw_only=True)

    @property
    def platform(self) -> Services:
        assert self.services is not None
        return self.services

    @property
    def deps(self) -> MeetingDeps:
        return self.meetings.deps

    @property
    def delegated(self) -> DelegatedAuth:
        identity = self.platform.identity
        assert identity is not None and identity.delegated is not None
        return identity.delegated

    def day(self, days: int) -> date:
        """The date ``days`` after the fake clock's today (UTC, the test user's zone)."""
        return (self.clock() + timedelta(days=days)).date()

    def say(self, text: str, *, sender: str = USER_OID, mention_ben: bool = False) -> dict[str, Any]:
        message = activity("message", text=text, serviceUrl=self.connector.url, localTimezone="UTC")
        message["from"]["aadObjectId"] = sender
        if mention_ben:
            message["entities"] = [
                {"type": "mention", "text": "<at>Ben Ito</at>", "mentioned": {"id": BEN_ID, "name": "Ben Ito"}}
            ]
        return message

    def click(self, verb: str, data: dict[str, Any], *, sender: str = USER_OID) -> dict[str, Any]:
        action = {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}}
        invoke = activity(
            "invoke",
            name="adaptiveCard/action",
            value={"action": action},
            serviceUrl=self.connector.url,
            localTimezone="UTC",
        )
        invoke["from"]["aadObjectId"] = sender
        return invoke

    async def card_answer(self, invoke: dict[str, Any]) -> dict[str, Any]:
        """Click a card button; the card Courier answers with (it replaces the clicked one)."""
        response = await self.post(invoke, self.token())
        assert response.status == 200, await response.text()
        return dict((await response.json())["value"])

    async def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """Post a message; the card Courier answers with."""
        before = len(self.connector.recorded)
        await self.post(message, self.token())
        arrived = await self.connector.wait_for_async(lambda r: len(r) > before)
        return dict(arrived[-1].activity["attachments"][0]["content"])

    async def browse(self, link: str) -> aiohttp.ClientResponse:
        """The browser's way through a sign-in link: Courier's start -> Entra -> Courier's callback."""
        start = await self.get(link)
        authorize = await self.get(start.headers["Location"])
        return await self.get(authorize.headers["Location"])

    async def sign_in(self, users: DelegatedState) -> None:
        users.signed_in_user = ANA
        callback = await self.browse(await self.delegated.begin(ORGANIZER, None))
        assert callback.status == 200

    async def install(self) -> None:
        """Courier added to the personal chat (so it can update its cards there later)."""
        await self.post(activity("installationUpdate", action="add", serviceUrl=self.connector.url), self.token())
        await self.connector.wait_for_async(lambda r: len(r) >= 1)  # the welcome card

    async def meeting(self, users: DelegatedState, text: str = "schedule Retro tomorrow at 10:00") -> str:
        """Signed in, asked to schedule (Retro tomorrow at 10:00): the new meeting's id (from its Cancel button)."""
        await self.sign_in(users)
        card = await self.ask(self.say(text))
        return str(next(a for a in card["actions"] if a["verb"] == "meeting.cancel")["data"]["meeting"])

    def updates(self) -> list[dict[str, Any]]:
        """The cards Courier redrew in place (proactive updates), oldest first."""
        return [r.activity for r in self.connector.recorded if r.kind == "update"]


@asynccontextmanager
async def meeting_bot_running(
    tmp_path: Path,
    clock: FakeClock,
    emulators: tuple[BotFrameworkChannelEmulator, EntraEmulator, ConnectorEmulator, TestCA],
    graph_url: str,
    calendar: CalendarState,
    *,
    graph_roles: tuple[str, ...] = (),
    **overrides: Any,
) -> AsyncIterator[MeetingBot]:
    """``graph_roles``: the application permissions granted to Courier; ``overrides``: settings to change."""
    bf_channel, entra, connector, test_ca = emulators
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={"https://graph.microsoft.com": graph_roles})
    port = free_port()
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        public_url=f"http://127.0.0.1:{port}",
        encryption_key="test-encryption-key-" + "x" * 24,
        graph_base_url=graph_url,
        **overrides,
    )
    connector.add_members(CONVERSATION, [{"id": BEN_ID, "name": "Ben Ito", "aadObjectId": BEN_AAD, "email": BEN_MAIL}])
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings), clock=clock)
    (meetings,) = [f for f in app[FEATURES_KEY] if isinstance(f, Meetings)]
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    browser = aiohttp.TCPConnector(ssl=test_ca.client_ssl_context())
    try:
        async with aiohttp.ClientSession(connector=browser) as session:
            yield MeetingBot(
                f"http://127.0.0.1:{port}",
                session,
                settings,
                bf_channel,
                connector,
                services=app[SERVICES_KEY],
                calendar=calendar,
                clock=clock,
                meetings=meetings,
            )
    finally:
        await server.close()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A naive UTC wall time on ``day`` (how the calendar emulator takes them)."""
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)
