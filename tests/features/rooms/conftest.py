"""Rooms run on SQLite and PostgreSQL alike: the live bot over the Graph emulator's places and presence."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_places import PlacesState, install_places
from bot.sandbox.emulators.graph_presence import PresenceState, install_presence
from bot.sandbox.emulators.tls import TestCA
from tests.features.rooms.rig import RoomsBot, rooms_bot_running, rooms_settings
from tests.support.clock import FakeClock
from tests.support.databases import database_url

__all__ = ["database_url", "rooms_bot", "rooms_graph"]

ROOMS = [("r-harbour", "harbour@contoso.com", "Harbour 4.01", 8), ("r-lagoon", "lagoon@contoso.com", "Lagoon 2.10", 4)]


@pytest.fixture
def rooms_graph(entra: EntraEmulator, test_ca: TestCA) -> Iterator[tuple[GraphEmulator, PresenceState, PlacesState]]:
    emulator = GraphEmulator(entra, test_ca.server_ssl_context())
    presence = install_presence(emulator)
    places = install_places(emulator)
    for room_id, email, name, capacity in ROOMS:
        places.add_room(room_id, email, name, capacity=capacity, building="HQ", floor=4)
        presence.set(room_id, "Available")
    emulator.start()
    yield emulator, presence, places
    emulator.stop()


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    rooms_graph: tuple[GraphEmulator, PresenceState, PlacesState],
) -> Settings:
    return rooms_settings(tmp_path, database_url, (bf_channel, entra, connector), rooms_graph[0].url)


@pytest.fixture
async def rooms_bot(
    settings: Settings,
    clock: FakeClock,
    bf_channel: BotFrameworkChannelEmulator,
    connector: ConnectorEmulator,
    rooms_graph: tuple[GraphEmulator, PresenceState, PlacesState],
) -> AsyncIterator[RoomsBot]:
    _, presence, places = rooms_graph
    async with rooms_bot_running(settings, clock, (bf_channel, connector), (presence, places)) as running:
        yield running
