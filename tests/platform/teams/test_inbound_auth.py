"""Every inbound request is JWT-validated; a bad or missing token gets 401 and nothing is processed or stored."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from tests.support.clock import FakeClock
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings, serve
from tests.support.probe import PONG, Probe
from tests.support.turns import activity


def _message(bot: LiveBot, text: str = "ping") -> dict[str, object]:
    return activity(text=text, serviceUrl=bot.connector.url)


async def _was_processed(bot: LiveBot, message: dict[str, object], clock: FakeClock) -> bool:
    """Whether the bot took the activity in (de-duplication remembers every activity it lets through)."""
    assert bot.services is not None
    conversation = message["conversation"]
    assert isinstance(conversation, dict) and isinstance(message["id"], str)
    return not await bot.services.store.remember_activity(conversation["id"], message["id"], clock())


async def test_a_valid_token_is_accepted_and_the_reply_reaches_the_connector(live_bot: LiveBot) -> None:
    response = await live_bot.post(_message(live_bot), live_bot.token())
    assert response.status == 200
    arrived = await live_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    card = arrived[0].activity["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"


async def test_the_reply_is_sent_with_a_connector_token(live_bot: LiveBot) -> None:
    await live_bot.post(_message(live_bot), live_bot.token())
    await live_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert live_bot.connector.unauthorized == 0


async def test_a_missing_token_is_refused(live_bot: LiveBot, clock: FakeClock) -> None:
    message = _message(live_bot)
    response = await live_bot.post(message)
    assert response.status == 401
    assert not await _was_processed(live_bot, message, clock)


BadToken = Callable[[LiveBot], str]


@pytest.mark.parametrize(
    ("case", "bad_token"),
    [
        ("wrong audience", lambda bot: bot.token(audience="11111111-1111-1111-1111-111111111111")),
        ("expired", lambda bot: bot.token(expires_in=-600)),
        ("bad signature", lambda bot: bot.token(key="rogue")),
        ("wrong serviceUrl", lambda bot: bot.token(service_url="https://evil.example/")),
        ("key not endorsed for msteams", lambda bot: bot.token(key="unendorsed")),
        ("wrong issuer", lambda bot: bot.token(issuer="https://sts.example.com/")),
    ],
)
async def test_a_bad_token_is_refused_and_nothing_is_stored(
    live_bot: LiveBot, clock: FakeClock, case: str, bad_token: BadToken
) -> None:
    message = _message(live_bot)
    response = await live_bot.post(message, bad_token(live_bot))
    assert response.status == 401, case
    assert not await _was_processed(live_bot, message, clock)
    assert live_bot.connector.activities() == []


async def test_a_garbled_authorization_header_is_refused(live_bot: LiveBot) -> None:
    response = await live_bot.session.post(
        f"{live_bot.url}/api/messages", json=_message(live_bot), headers={"Authorization": "Bearer not.a.jwt"}
    )
    assert response.status == 401


async def test_the_error_body_never_echoes_the_token(live_bot: LiveBot) -> None:
    token = live_bot.token(expires_in=-600)
    response = await live_bot.post(_message(live_bot), token)
    assert token not in await response.text()


async def test_with_the_dangerous_switch_a_token_less_request_is_accepted_for_local_emulators(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, clock: FakeClock
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    connector = ConnectorEmulator(require_auth=False)  # like the Playground's mock connector: no token checks
    connector.start()
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector), dangerously_skip_inbound_auth=True
    )
    try:
        async with serve(settings, features=(Probe,), clock=clock) as (url, _), aiohttp.ClientSession() as session:
            message = activity("message", text="ping", serviceUrl=connector.url)
            async with session.post(f"{url}/api/messages", json=message) as response:
                assert response.status in (200, 201)
            arrived = await connector.wait_for_async(lambda r: len(r) >= 1)
        assert arrived[0].activity["summary"] == PONG
    finally:
        connector.stop()


async def test_a_token_accepted_once_is_still_checked_against_each_requests_service_url(
    live_bot: LiveBot, clock: FakeClock
) -> None:
    token = live_bot.token()
    assert (await live_bot.post(_message(live_bot), token)).status == 200
    assert (await live_bot.post(_message(live_bot), token)).status == 200  # the same token again: accepted
    elsewhere = activity(text="ping", serviceUrl="https://attacker.example/")
    assert (await live_bot.post(elsewhere, token)).status == 401
    assert not await _was_processed(live_bot, elsewhere, clock)
