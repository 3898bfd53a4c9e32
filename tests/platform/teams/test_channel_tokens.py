"""Only Bot Framework channel tokens, with an expiry, reach botbuilder's validation when Courier has an app id."""

from __future__ import annotations

import logging

import pytest

from bot.platform.settings import Settings
from bot.platform.teams.adapter import channel_token_problem
from bot.sandbox.emulators.keys import SigningKey, now
from tests.support.live import LiveBot
from tests.support.turns import activity

APP_ID = "6f1c1a52-2b7e-4f3e-9a55-0c6f4b8c1d01"
CHANNEL = "https://api.botframework.com"
_KEY = SigningKey()
SETTINGS = Settings(app_id=APP_ID, app_password="x", app_tenant_id="t", bot_token_issuer=CHANNEL)


def _token(**claims: object) -> str:
    issued = now()
    body: dict[str, object] = {"iss": CHANNEL, "aud": APP_ID, "nbf": issued - 60, "exp": issued + 600}
    body.update(claims)
    return "Bearer " + _KEY.sign({k: v for k, v in body.items() if v is not None})


def test_a_channel_token_goes_on_to_botbuilders_checks() -> None:
    assert channel_token_problem(_token(), SETTINGS) is None


def test_an_emulator_issuer_is_refused() -> None:
    problem = channel_token_problem(
        _token(iss="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"), SETTINGS
    )
    assert problem == "the token's issuer is not the Bot Framework channel"


def test_a_token_without_expiry_is_refused() -> None:
    assert channel_token_problem(_token(exp=None), SETTINGS) == "the token has no expiry"


def test_garbage_is_refused_without_an_error() -> None:
    assert channel_token_problem("Bearer not.a.jwt", SETTINGS) is not None
    assert channel_token_problem("Basic dXNlcjpwYXNz", SETTINGS) == "not a bearer token"


async def test_an_emulator_token_gets_401_over_http(live_bot: LiveBot, caplog: pytest.LogCaptureFixture) -> None:
    token = live_bot.token(issuer="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/")
    with caplog.at_level(logging.WARNING):
        response = await live_bot.session.post(
            f"{live_bot.url}/api/messages",
            json=activity(text="ping", serviceUrl=live_bot.connector.url),
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status == 401
    assert "issuer is not the Bot Framework channel" in caplog.text
