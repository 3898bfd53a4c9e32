"""Room devices watched: an alert once a room has been Offline past the threshold, the same card updated in place
when it is back (with the outage's length), never two open alerts for one room, across a restart and two replicas."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_places import PlacesState
from bot.sandbox.emulators.graph_presence import PresenceState
from tests.features.rooms.rig import RoomsBot, rooms_bot_running
from tests.support.clock import FakeClock

Graph = tuple[GraphEmulator, PresenceState, PlacesState]


async def _watching(bot: RoomsBot) -> None:
    await bot.install()
    assert "Watching 2 rooms here" in await bot.say("watch rooms here")
    await bot.check()


async def _offline_for(bot: RoomsBot, minutes: int) -> None:
    """The Harbour room's device goes offline now, and checks run for ``minutes``."""
    bot.presence.set("r-harbour", "Offline")
    until = bot.clock() + timedelta(minutes=minutes)
    while bot.clock() < until:
        await bot.check()


async def test_only_admins_may_watch_rooms(rooms_bot: RoomsBot) -> None:
    await rooms_bot.install()
    assert "Only Courier admins" in await rooms_bot.say("watch rooms here", sender="someone-else")


async def test_a_short_outage_raises_no_alert(rooms_bot: RoomsBot) -> None:
    await _watching(rooms_bot)
    await _offline_for(rooms_bot, 3)
    rooms_bot.presence.set("r-harbour", "Available")
    await rooms_bot.check()
    assert rooms_bot.alerts() == []


async def test_an_alert_opens_once_a_room_is_offline_past_the_threshold(rooms_bot: RoomsBot) -> None:
    await _watching(rooms_bot)
    went = rooms_bot.clock()
    await _offline_for(rooms_bot, 6)
    (alert,) = rooms_bot.alerts()
    assert alert["kind"] == "send" and "Room offline: Harbour 4.01" in alert["text"]
    state = await rooms_bot.rooms.deps.store.all_alerts(rooms_bot.platform.settings.app_tenant_id)
    assert state[0].opened_at - went <= timedelta(minutes=5, seconds=60)


async def test_the_card_is_updated_in_place_with_the_outage_length_when_the_room_is_back(rooms_bot: RoomsBot) -> None:
    await _watching(rooms_bot)
    await _offline_for(rooms_bot, 12)
    rooms_bot.presence.set("r-harbour", "Available")
    await rooms_bot.check()
    sent, updated = rooms_bot.alerts()
    assert updated["kind"] == "update" and updated["id"] == sent["id"]
    assert "Room back online: Harbour 4.01" in updated["text"] and "Offline for 12 min" in updated["text"]


async def test_a_room_offline_for_long_gets_one_alert_not_one_per_check(rooms_bot: RoomsBot) -> None:
    await _watching(rooms_bot)
    await _offline_for(rooms_bot, 30)
    assert [a["kind"] for a in rooms_bot.alerts()] == ["send"]


async def test_a_second_outage_after_recovery_opens_a_new_alert(rooms_bot: RoomsBot) -> None:
    await _watching(rooms_bot)
    await _offline_for(rooms_bot, 6)
    rooms_bot.presence.set("r-harbour", "Available")
    await rooms_bot.check()
    await _offline_for(rooms_bot, 6)
    assert [a["kind"] for a in rooms_bot.alerts()] == ["send", "update", "send"]


async def test_a_restart_neither_repeats_the_alert_nor_forgets_to_update_it(
    settings: Settings,
    clock: FakeClock,
    bf_channel: BotFrameworkChannelEmulator,
    connector: ConnectorEmulator,
    rooms_graph: Graph,
) -> None:
    _, presence, places = rooms_graph
    async with rooms_bot_running(settings, clock, (bf_channel, connector), (presence, places)) as first:
        await _watching(first)
        await _offline_for(first, 6)
    async with rooms_bot_running(settings, clock, (bf_channel, connector), (presence, places)) as second:
        await _offline_for(second, 10)
        presence.set("r-harbour", "Available")
        await second.check()
        assert [a["kind"] for a in second.alerts()] == ["send", "update"]


async def test_two_replicas_checking_at_once_post_one_alert(
    settings: Settings,
    clock: FakeClock,
    bf_channel: BotFrameworkChannelEmulator,
    connector: ConnectorEmulator,
    rooms_graph: Graph,
) -> None:
    _, presence, places = rooms_graph
    emulators, graph = (bf_channel, connector), (presence, places)
    async with (
        rooms_bot_running(settings, clock, emulators, graph) as one,
        rooms_bot_running(settings, clock, emulators, graph) as two,
    ):
        await _watching(one)
        presence.set("r-harbour", "Offline")
        await one.check()
        clock.advance(minutes=6)
        # Both replicas run the check themselves at the same moment (past the scheduler's own lease).
        first, second = one.rooms.deps.watcher, two.rooms.deps.watcher
        await asyncio.gather(first.run_check(one.check_job()), second.run_check(two.check_job()))
        assert [a["kind"] for a in one.alerts()] == ["send"]


async def test_rooms_status_shows_every_room_now(rooms_bot: RoomsBot) -> None:
    await rooms_bot.install()
    rooms_bot.presence.set("r-lagoon", "Offline")
    text = await rooms_bot.say("rooms status")
    assert "1 offline of 2" in text
    assert text.index("Lagoon 2.10") < text.index("Harbour 4.01")  # offline rooms first


async def test_a_check_reads_presence_in_one_request_for_up_to_650_rooms(rooms_bot: RoomsBot) -> None:
    for n in range(700):
        rooms_bot.places.add_room(f"bulk-{n}", f"bulk{n}@contoso.com", f"Bulk {n}", capacity=4)
    await rooms_bot.install()
    await rooms_bot.say("watch rooms here")
    await rooms_bot.check()
    before = rooms_bot.presence.batch_requests
    await rooms_bot.check()
    assert rooms_bot.presence.batch_requests - before == 2  # 702 rooms: 650 + 52


async def test_the_daily_summary_lists_rooms_with_outages(rooms_bot: RoomsBot) -> None:
    await _watching(rooms_bot)
    await _offline_for(rooms_bot, 7)
    rooms_bot.presence.set("r-harbour", "Available")
    await rooms_bot.check()
    summary = await rooms_bot.platform.jobs.get("rooms.summary", rooms_bot.platform.settings.app_tenant_id)
    assert summary is not None
    rooms_bot.clock.set(summary.due_at)
    before = len(rooms_bot.connector.recorded)
    rooms_bot.platform.jobs.wake()
    arrived = await rooms_bot.connector.wait_for_async(lambda r: len(r) > before)
    text = str(arrived[-1].activity)
    assert "Room outages in the last 24 hours" in text and "Harbour 4.01" in text and "Lagoon" not in text
