"""The live bot for rooms: real HTTP, app-only Graph (places and presence emulated), a channel to alert, a fake clock.

Each bot is a whole app (``create_app``), its job scheduler included; two of them on one database are two replicas.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from app import FEATURES
from bot.features.rooms import Rooms
from bot.features.rooms.service import CHECK
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.jobs import Job
from bot.platform.server import FEATURES_KEY, SERVICES_KEY, create_app
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph_places import PlacesState
from bot.sandbox.emulators.graph_presence import PresenceState
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings
from tests.support.turns import activity

ADMIN = "adadadad-1111-2222-3333-444444444444"
CHANNEL = "19:rooms@thread.tacv2"
GRAPH = "https://graph.microsoft.com"


@dataclasses.dataclass
class RoomsBot(LiveBot):
    clock: FakeClock = dataclasses.field(kw_only=True)
    presence: PresenceState = dataclasses.field(kw_only=True)
    places: PlacesState = dataclasses.field(kw_only=True)
    rooms: Rooms = dataclasses.field(kw_only=True)

    @property
    def platform(self) -> Services:
        assert self.services is not None
        return self.services

    def in_channel(self, text: str, *, sender: str = ADMIN) -> dict[str, Any]:
        message = activity(
            "message",
            text=text,
            conversation_type="channel",
            conversation_id=CHANNEL,
            serviceUrl=self.connector.url,
            mention_bot=True,
        )
        message["from"]["aadObjectId"] = sender
        return message

    async def install(self) -> None:
        """Courier added to the team (its channel stored, so it can post there later)."""
        added = activity(
            "installationUpdate",
            action="add",
            conversation_type="channel",
            conversation_id=CHANNEL,
            serviceUrl=self.connector.url,
        )
        before = len(self.connector.recorded)
        await self.post(added, self.token())
        await self.connector.wait_for_async(lambda r: len(r) > before)

    async def say(self, text: str, *, sender: str = ADMIN) -> str:
        """Say something in the channel; the texts of the card Courier answers with."""
        before = len(self.connector.recorded)
        response = await self.post(self.in_channel(text, sender=sender), self.token())
        assert response.status in (200, 201, 202), await response.text()
        arrived = await self.connector.wait_for_async(lambda r: len(r) > before)
        return " ".join(card_texts(arrived[-1].activity["attachments"][0]["content"]))

    async def check(self) -> None:
        """Let the next room check fall due on the fake clock and wait until the scheduler has run it."""
        job = await self.platform.jobs.get(CHECK, TENANT)
        assert job is not None, "rooms are not watched"
        if job.due_at > self.clock():
            self.clock.set(job.due_at)
        self.platform.jobs.wake()
        for _ in range(500):
            after = await self.platform.jobs.get(CHECK, TENANT)
            if after is not None and after.due_at > job.due_at and after.claim_token is None:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the room check did not run")

    def check_job(self) -> Job:
        return Job(CHECK, TENANT, TENANT, self.clock(), {})

    def alerts(self) -> list[dict[str, Any]]:
        """The alert cards posted to the channel (sends and in-place updates), oldest first, with their kind."""
        return [
            {"kind": r.kind, "id": r.id, "text": " ".join(card_texts(r.activity["attachments"][0]["content"]))}
            for r in self.connector.recorded
            if r.conversation_id.startswith(CHANNEL) and r.kind in ("send", "update")
        ]


def rooms_settings(
    tmp_path: Path,
    database_url: str,
    emulators: tuple[BotFrameworkChannelEmulator, EntraEmulator, ConnectorEmulator],
    graph_url: str,
) -> Settings:
    bf, entra, connector = emulators
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ("Place.Read.All", "Presence.Read.All")})
    return dataclasses.replace(
        bot_settings(tmp_path, bf, entra, connector),
        database_url=database_url,
        graph_base_url=graph_url,
        admins=frozenset({ADMIN}),
        room_offline_minutes=5,
        room_check_seconds=30,
    )


@asynccontextmanager
async def rooms_bot_running(
    settings: Settings,
    clock: FakeClock,
    emulators: tuple[BotFrameworkChannelEmulator, ConnectorEmulator],
    graph: tuple[PresenceState, PlacesState],
) -> AsyncIterator[RoomsBot]:
    bf, connector = emulators
    presence, places = graph
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings), clock=clock)
    (rooms,) = [f for f in app[FEATURES_KEY] if isinstance(f, Rooms)]
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = str(server.make_url("")).rstrip("/")
            services = app[SERVICES_KEY]
            yield RoomsBot(
                url,
                session,
                settings,
                bf,
                connector,
                services,
                clock=clock,
                presence=presence,
                places=places,
                rooms=rooms,
            )
    finally:
        await server.close()
