"""The meetings' live bot (see :mod:`tests.features.meetings.rig`) and the Graph calendar it talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_calendar import CalendarState, install_calendar
from bot.sandbox.emulators.tls import TestCA
from tests.features.meetings.rig import MeetingBot, meeting_bot_running
from tests.support.clock import FakeClock


@pytest.fixture
def calendar_graph(entra: EntraEmulator, test_ca: TestCA) -> Iterator[tuple[GraphEmulator, CalendarState]]:
    emulator = GraphEmulator(entra, test_ca.server_ssl_context())
    calendar = install_calendar(emulator)
    emulator.start()
    yield emulator, calendar
    emulator.stop()


@pytest.fixture
async def meeting_bot(
    tmp_path: Path,
    clock: FakeClock,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
    calendar_graph: tuple[GraphEmulator, CalendarState],
) -> AsyncIterator[MeetingBot]:
    graph, calendar = calendar_graph
    emulators = (bf_channel, entra, connector, test_ca)
    async with meeting_bot_running(tmp_path, clock, emulators, graph.url, calendar) as running:
        yield running
