"""Booking a room with a meeting ("in a room", "with a room for 8"), and saying why when no time works: Graph's
reason, who is busy, and the nearest alternatives as buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_calendar import CalendarState, install_calendar
from bot.sandbox.emulators.graph_places import PlacesState, install_places
from bot.sandbox.emulators.tls import TestCA
from tests.features.meetings.rig import BEN_MAIL, MeetingBot, at, meeting_bot_running
from tests.features.meetings.test_scheduling import pick_data, texts
from tests.support.clock import FakeClock

SMALL, LARGE = "fjord@contoso.com", "harbour@contoso.com"


@pytest.fixture
def places_graph(entra: EntraEmulator, test_ca: TestCA) -> Iterator[tuple[GraphEmulator, CalendarState, PlacesState]]:
    emulator = GraphEmulator(entra, test_ca.server_ssl_context())
    calendar = install_calendar(emulator)
    places = install_places(emulator, calendar)
    places.add_room("r1", SMALL, "Fjord 2.01", capacity=4, building="HQ", floor=2)
    places.add_room("r2", LARGE, "Harbour 4.01", capacity=10, building="HQ", floor=4)
    emulator.start()
    yield emulator, calendar, places
    emulator.stop()


async def _bot(
    tmp_path: Path,
    clock: FakeClock,
    emulators: tuple[BotFrameworkChannelEmulator, EntraEmulator, ConnectorEmulator, TestCA],
    graph: tuple[GraphEmulator, CalendarState, PlacesState],
    roles: tuple[str, ...],
) -> AsyncIterator[MeetingBot]:
    emulator, calendar, _ = graph
    async with meeting_bot_running(tmp_path, clock, emulators, emulator.url, calendar, graph_roles=roles) as bot:
        yield bot


@pytest.fixture
async def room_bot(
    tmp_path: Path,
    clock: FakeClock,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
    places_graph: tuple[GraphEmulator, CalendarState, PlacesState],
) -> AsyncIterator[MeetingBot]:
    emulators = (bf_channel, entra, connector, test_ca)
    async for bot in _bot(tmp_path, clock, emulators, places_graph, ("Place.Read.All",)):
        yield bot


def _room_of(event: dict[str, Any]) -> dict[str, Any]:
    (room,) = [a for a in event["attendees"] if a["type"] == "resource"]
    return dict(room)


async def test_a_room_for_8_books_a_room_with_enough_seats_as_a_resource_attendee(
    room_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await room_bot.sign_in(entra_users)
    card = await room_bot.ask(room_bot.say("schedule Planning with a room for 8 tomorrow at 10:00"))
    (event,) = room_bot.calendar.events.values()
    assert _room_of(event)["emailAddress"]["address"] == LARGE  # the 4-seat room is too small
    assert event["location"]["displayName"] == "Harbour 4.01"
    assert "Harbour 4.01 (accepted)" in texts(card)


async def test_a_busy_room_is_skipped_for_a_free_one(room_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await room_bot.sign_in(entra_users)
    day = room_bot.day(1)
    room_bot.calendar.busy_for(SMALL, at(day, 10), at(day, 11))
    await room_bot.ask(room_bot.say("schedule Sync in a room tomorrow at 10:00"))
    (event,) = room_bot.calendar.events.values()
    assert _room_of(event)["emailAddress"]["address"] == LARGE


async def test_in_a_room_offers_times_with_a_free_room_and_the_pick_books_it(
    room_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await room_bot.sign_in(entra_users)
    day = room_bot.day(7)
    options = await room_bot.ask(room_bot.say(f"schedule Design review in a room on {day:%B %d}"))
    data = pick_data(options)
    assert data["room"] == SMALL and "Fjord 2.01" in texts(options)
    card = await room_bot.card_answer(room_bot.click("meeting.pick", data))
    assert "Fjord 2.01 (accepted)" in texts(card)
    (event,) = room_bot.calendar.events.values()
    assert _room_of(event)["status"]["response"] == "accepted"


async def test_no_time_says_who_is_busy_and_offers_the_next_days(
    room_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await room_bot.sign_in(entra_users)
    day = room_bot.day(7)
    room_bot.calendar.busy_for(BEN_MAIL, at(day, 0), at(day, 23))
    options = await room_bot.ask(room_bot.say(f"schedule Review with {BEN_MAIL} on {day:%B %d}"))
    assert "not everyone is free at the same time then" in texts(options)
    assert f"Busy throughout: {BEN_MAIL}" in texts(options)
    assert "the next working days" in texts(options)
    assert pick_data(options)["start"] > f"{day}T23"  # an alternative on a later day


async def test_no_free_room_says_so(room_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await room_bot.sign_in(entra_users)
    day = room_bot.day(1)
    for room in (SMALL, LARGE):
        room_bot.calendar.busy_for(room, at(day, 10), at(day, 11))
    options = await room_bot.ask(room_bot.say("schedule Sync in a room tomorrow at 10:00"))
    assert "no room is free when everyone is" in texts(options)
    assert room_bot.calendar.events == {}


async def test_a_room_bigger_than_any_is_answered_plainly(room_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await room_bot.sign_in(entra_users)
    card = await room_bot.ask(room_bot.say("schedule All hands with a room for 300 tomorrow at 10:00"))
    assert "No room has 300 seats or more." in texts(card)


async def test_without_place_read_all_rooms_degrade_to_one_line(
    tmp_path: Path,
    clock: FakeClock,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
    places_graph: tuple[GraphEmulator, CalendarState, PlacesState],
    entra_users: DelegatedState,
) -> None:
    emulators = (bf_channel, entra, connector, test_ca)
    async for bot in _bot(tmp_path, clock, emulators, places_graph, ()):
        await bot.sign_in(entra_users)
        card = await bot.ask(bot.say("schedule Sync in a room tomorrow at 10:00"))
        assert "may not read rooms yet (Place.Read.All)" in texts(card)


async def test_the_form_offers_a_room_picker(room_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await room_bot.sign_in(entra_users)
    form = await room_bot.ask(room_bot.say("schedule"))
    (picker,) = [b for b in form["body"] if b.get("id") == "room"]
    assert [c["value"] for c in picker["choices"]] == ["none", SMALL, LARGE]
    assert "Harbour 4.01 (HQ, floor 4 · 10 seats)" in [c["title"] for c in picker["choices"]]


async def test_the_form_books_the_picked_room(room_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await room_bot.sign_in(entra_users)
    data = {"subject": "Q3 deck review", "date": str(room_bot.day(2)), "time": "09:30", "minutes": "30", "room": LARGE}
    card = await room_bot.card_answer(room_bot.click("meeting.form", data))
    assert "Harbour 4.01 (accepted)" in texts(card)
    (event,) = room_bot.calendar.events.values()
    assert _room_of(event)["emailAddress"]["address"] == LARGE
