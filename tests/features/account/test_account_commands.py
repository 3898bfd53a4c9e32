"""``signin``, ``signout``, ``consent`` and ``permissions`` where Courier has no public URL nor app registration."""

from __future__ import annotations

from tests.support.bot import Bot
from tests.support.turns import activity


async def test_signin_says_sign_in_is_not_available_here(bot: Bot) -> None:
    turn = await bot.turn(activity(text="signin"))
    assert "Sign-in isn't set up here" in turn.texts()
    assert "an admin hasn't set it up for Courier yet" in turn.texts()


async def test_signout_when_nobody_is_signed_in_says_so(bot: Bot) -> None:
    turn = await bot.turn(activity(text="signout"))
    assert "Nothing to sign out" in turn.texts()
    assert "You weren't signed in." in turn.texts()


async def test_consent_says_admin_consent_is_not_available_here(bot: Bot) -> None:
    turn = await bot.turn(activity(text="consent"))
    assert "Admin consent isn't available" in turn.texts()


async def test_permissions_without_an_app_credential_say_nothing_can_be_checked(bot: Bot) -> None:
    turn = await bot.turn(activity(text="permissions"))
    assert "Application permissions can't be checked here" in turn.texts()


async def test_permissions_without_consent_offer_no_consent_link(bot: Bot) -> None:
    turn = await bot.turn(activity(text="permissions"))
    assert [card.get("actions") for card in turn.cards()] == [None]


async def test_account_commands_are_listed_under_account_in_help(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help"))
    assert "Account" in turn.texts()
