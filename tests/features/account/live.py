"""Talking to the live sign-in bot: a command's card as the connector received it, and a browser signing in."""

from __future__ import annotations

from typing import Any

from bot.platform.identity.delegated import DelegatedAuth, UserRef
from bot.sandbox.emulators.connector import Recorded
from tests.support.signin import TENANT, USER_OID, SignInBot
from tests.support.turns import activity

USER = UserRef(TENANT, USER_OID)


async def command_card(bot: SignInBot, text: str) -> dict[str, Any]:
    """Send a command in the personal chat; the card of the answer the connector received next."""
    return card_of(await next_arrival(bot, activity(text=text, serviceUrl=bot.connector.url)))


async def install(bot: SignInBot) -> None:
    """Courier installed in the personal chat (so it can message it later); waits for the welcome card."""
    await next_arrival(bot, activity("installationUpdate", action="add", serviceUrl=bot.connector.url))


async def next_arrival(bot: SignInBot, inbound: dict[str, Any]) -> Recorded:
    """Post an activity to the bot; the first activity the connector receives after it."""
    before = len(bot.connector.recorded)
    assert (await bot.post(inbound, bot.token())).status == 200
    return (await bot.connector.wait_for_async(lambda r: len(r) > before))[before]


async def told_next(bot: SignInBot, before: int) -> Recorded:
    """The activity the connector receives after the first ``before`` ones (a proactive message)."""
    return (await bot.connector.wait_for_async(lambda r: len(r) > before))[before]


def card_of(recorded: Recorded) -> dict[str, Any]:
    card: dict[str, Any] = recorded.activity["attachments"][0]["content"]
    return card


def delegated(bot: SignInBot) -> DelegatedAuth:
    assert bot.services is not None and bot.services.identity is not None
    auth = bot.services.identity.delegated
    assert auth is not None
    return auth


async def sign_in(bot: SignInBot) -> None:
    """Follow the browser through start -> Entra authorize -> callback (the Entra emulator says who signs in)."""
    link = await delegated(bot).begin(USER, None)
    start = await bot.get(link)
    authorize = await bot.get(start.headers["Location"])
    callback = await bot.get(authorize.headers["Location"])
    assert callback.status == 200, await callback.text()
