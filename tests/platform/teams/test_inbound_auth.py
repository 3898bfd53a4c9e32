"""Every inbound request is JWT-validated; a bad or missing token gets 401 and nothing is processed or stored."""

from __future__ import annotations

import pytest

from app import MIGRATIONS
from bot.platform.storage import open_store
from tests.support.live import LiveBot
from tests.support.turns import activity


def _message(bot: LiveBot, text: str = "help") -> dict[str, object]:
    return activity(text=text, serviceUrl=bot.connector.url)


async def _stored_anything(bot: LiveBot) -> bool:
    store = await open_store(bot.settings.database_url, migrations=MIGRATIONS)
    try:
        return bool(await store.db.fetchval("SELECT COUNT(*) FROM seen_activities"))
    finally:
        await store.close()


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


async def test_a_missing_token_is_refused(live_bot: LiveBot) -> None:
    response = await live_bot.post(_message(live_bot))
    assert response.status == 401
    assert not await _stored_anything(live_bot)


@pytest.mark.parametrize(
    ("case", "overrides"),
    [
        ("wrong audience", {"audience": "11111111-1111-1111-1111-111111111111"}),
        ("expired", {"expires_in": -600}),
        ("bad signature", {"key": "rogue"}),
        ("wrong serviceUrl", {"service_url": "https://evil.example/"}),
        ("key not endorsed for msteams", {"key": "unendorsed"}),
        ("wrong issuer", {"issuer": "https://sts.example.com/"}),
    ],
)
async def test_a_bad_token_is_refused_and_nothing_is_stored(
    live_bot: LiveBot, case: str, overrides: dict[str, object]
) -> None:
    response = await live_bot.post(_message(live_bot), live_bot.token(**overrides))
    assert response.status == 401, case
    assert not await _stored_anything(live_bot)
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
    tmp_path: pytest.TempPathFactory,
    bf_channel: object,
    entra: object,
) -> None:
    import dataclasses

    import aiohttp
    from aiohttp.test_utils import TestServer

    from app import FEATURES
    from bot.platform.identity.credentials import credential_from_settings
    from bot.platform.server import create_app
    from tests.emulators.connector import ConnectorEmulator
    from tests.support.live import APP_ID, SECRET, TENANT, bot_settings

    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)  # type: ignore[attr-defined]
    connector = ConnectorEmulator(require_auth=False)  # like the Playground's mock connector: no token checks
    connector.start()
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),  # type: ignore[arg-type]
        dangerously_skip_inbound_auth=True,
    )
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            message = activity("message", text="help", serviceUrl=connector.url)
            async with session.post(str(server.make_url("/api/messages")), json=message) as response:
                assert response.status in (200, 201)
        arrived = await connector.wait_for_async(lambda r: len(r) >= 1)
        assert "What I can do" in str(arrived[0].activity)
    finally:
        await server.close()
        connector.stop()
