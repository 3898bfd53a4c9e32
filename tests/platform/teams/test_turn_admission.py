"""Invokes go ahead of message turns when many arrive at once: Teams waits about 5 s for an invoke, 15 s for a
message (bot/platform/teams/admission.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.platform.teams.admission import TurnAdmission
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings, serve
from tests.support.probe import Probe
from tests.support.turns import activity


@pytest.fixture
async def one_message_at_a_time(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator
) -> AsyncIterator[LiveBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    settings = dataclasses.replace(bot_settings(tmp_path, bf_channel, entra, connector), concurrent_message_turns=1)
    async with serve(settings, features=(Probe,)) as (url, services), aiohttp.ClientSession() as session:
        yield LiveBot(url, session, settings, bf_channel, connector, services)


async def test_a_card_action_is_answered_while_message_turns_wait_for_their_place(
    one_message_at_a_time: LiveBot,
) -> None:
    bot = one_message_at_a_time
    bot.connector.write_delay = 0.5  # each message's reply holds the one place for a while
    token = bot.token()
    messages = [
        asyncio.create_task(bot.post(activity(text="ping", serviceUrl=bot.connector.url), token)) for _ in range(4)
    ]
    click = activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "ping"}},
        serviceUrl=bot.connector.url,
    )
    response = await bot.post(click, token)

    assert response.status == 200
    assert not all(m.done() for m in messages)  # not queued behind the messages posted before it
    assert all(r.status == 200 for r in await asyncio.gather(*messages))
    assert len(bot.connector.activities()) == 4


async def test_message_turns_all_get_their_turn(one_message_at_a_time: LiveBot) -> None:
    bot = one_message_at_a_time
    token = bot.token()
    responses = await asyncio.gather(
        *(bot.post(activity(text="ping", serviceUrl=bot.connector.url), token) for _ in range(5))
    )
    assert [r.status for r in responses] == [200] * 5
    assert len(await bot.connector.wait_for_async(lambda recorded: len(recorded) >= 5)) == 5


async def test_a_message_turn_waits_for_a_free_place_and_an_invoke_does_not() -> None:
    admission = TurnAdmission(message_slots=1)
    second_entered = asyncio.Event()

    async def second_message() -> None:
        async with admission.admit("message"):
            second_entered.set()

    async with admission.admit("message"):
        waiting = asyncio.create_task(second_message())
        await asyncio.sleep(0)  # let it queue for the place
        async with admission.admit("invoke"):
            invoke_entered = True
        assert invoke_entered
        assert not second_entered.is_set()
    await second_entered.wait()
    await waiting
