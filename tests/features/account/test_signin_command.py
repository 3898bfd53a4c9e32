"""``signin`` and ``signout`` with delegated sign-in on (a public URL, against the Entra emulator)."""

from __future__ import annotations

from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser
from tests.features.account.live import USER, card_of, command_card, delegated, install, sign_in, told_next
from tests.support.cards import card_texts
from tests.support.signin import USER_OID, SignInBot

ANA = EntraUser(oid=USER_OID, name="Ana Diaz", upn="ana@contoso.com")


async def test_signin_sends_the_sign_in_card(signin_bot: SignInBot) -> None:
    card = await command_card(signin_bot, "signin")
    assert card["actions"][0]["url"].startswith(f"{signin_bot.url}/auth/start?state=")


async def test_signin_when_already_signed_in_says_so(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    await sign_in(signin_bot)
    texts = card_texts(await command_card(signin_bot, "signin"))
    assert "You're already signed in" in texts


async def test_signout_deletes_the_stored_sign_in_and_says_so(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    entra_users.signed_in_user = ANA
    await sign_in(signin_bot)
    texts = card_texts(await command_card(signin_bot, "signout"))
    assert "Signed out" in texts
    assert not await delegated(signin_bot).is_signed_in(USER)


async def test_consent_sends_a_link_to_courier_s_consent_page(signin_bot: SignInBot) -> None:
    card = await command_card(signin_bot, "consent")
    assert card["actions"][0]["url"].startswith(f"{signin_bot.url}/admin/consent?tenant=")


async def test_consent_from_the_chat_tells_that_chat_the_outcome(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    await install(signin_bot)
    link = (await command_card(signin_bot, "consent"))["actions"][0]["url"]
    before = len(signin_bot.connector.recorded)
    start = await signin_bot.get(link)
    entra_page = await signin_bot.get(start.headers["Location"])
    assert (await signin_bot.get(entra_page.headers["Location"])).status == 200
    told = await told_next(signin_bot, before)
    assert told.conversation_id == "a:1personal-chat"
    assert "Admin consent granted" in card_texts(card_of(told))
