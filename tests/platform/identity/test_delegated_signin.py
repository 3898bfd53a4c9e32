"""Delegated sign-in: auth code with PKCE through Courier's endpoints, encrypted token caches, refresh, sign-out."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.platform.events import SignedIn
from bot.platform.identity.delegated import CACHE_NAMESPACE, STATE_TTL, DelegatedAuth, SignInRequired, UserRef
from bot.platform.services import Services
from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.probe import SIGN_IN_REASON
from tests.support.signin import TENANT, USER_OID, SignInBot
from tests.support.turns import activity

USER = UserRef(TENANT, USER_OID)
ANA = EntraUser(oid=USER_OID, name="Ana Diaz", upn="ana@contoso.com")
CHAT = "a:1personal-chat"


def _services(bot: SignInBot) -> Services:
    assert bot.services is not None
    return bot.services


def _delegated(bot: SignInBot) -> DelegatedAuth:
    identity = _services(bot).identity
    assert identity is not None and identity.delegated is not None
    return identity.delegated


async def _sign_in(bot: SignInBot, conversation: str | None = None) -> tuple[int, str, str]:
    """Follow the browser through start -> Entra authorize -> callback. Returns (status, page, callback URL)."""
    link = await _delegated(bot).begin(USER, conversation)
    start = await bot.get(link)
    assert start.status == 302
    authorize = await bot.get(start.headers["Location"])
    assert authorize.status == 302
    callback_url = authorize.headers["Location"]
    callback = await bot.get(callback_url)
    return callback.status, await callback.text(), callback_url


async def _install(bot: SignInBot) -> None:
    """Courier is added to the personal chat (the probe feature remembers it, so Courier can write there later)."""
    install = activity("installationUpdate", action="add", serviceUrl=bot.connector.url)
    assert (await bot.post(install, bot.token())).status == 200


async def test_a_user_signs_in_and_courier_gets_their_token(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    status, page, _ = await _sign_in(signin_bot)
    assert status == 200 and "signed in" in page
    token = await _delegated(signin_bot).get_token(USER)
    assert token.count(".") == 2


async def test_the_authorize_request_uses_pkce(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    link = await _delegated(signin_bot).begin(USER, None)
    start = await signin_bot.get(link)
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]


async def test_the_token_cache_is_encrypted_at_rest(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    await _sign_in(signin_bot)
    stored = await _services(signin_bot).store.get_value(CACHE_NAMESPACE, USER.key)
    assert isinstance(stored, str) and stored.startswith("v1.")
    assert "refresh_token" not in stored.lower() and "ey" not in stored[:8]
    token = await _delegated(signin_bot).get_token(USER)
    assert token not in json.dumps(stored)


async def test_a_replayed_callback_is_refused(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    _, _, callback_url = await _sign_in(signin_bot)
    replay = await signin_bot.get(callback_url)
    assert replay.status == 400
    assert "already used" in await replay.text()


async def test_a_callback_with_an_unknown_state_is_refused_and_stores_nothing(signin_bot: SignInBot) -> None:
    response = await signin_bot.get(f"{signin_bot.url}/auth/callback?code=abc&state=forged")
    assert response.status == 400
    assert not await _delegated(signin_bot).is_signed_in(USER)


async def test_an_expired_sign_in_link_is_refused(signin_bot: SignInBot, clock: FakeClock) -> None:
    link = await _delegated(signin_bot).begin(USER, None)
    clock.advance(STATE_TTL + timedelta(seconds=1))
    response = await signin_bot.get(link)
    assert response.status == 400
    assert "expired" in await response.text()


async def test_a_sign_in_link_still_works_until_it_expires(signin_bot: SignInBot, clock: FakeClock) -> None:
    link = await _delegated(signin_bot).begin(USER, None)
    clock.advance(STATE_TTL)
    assert (await signin_bot.get(link)).status == 302


async def test_declined_consent_stores_nothing(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    entra_users.deny_consent = True
    status, page, _ = await _sign_in(signin_bot)
    assert status == 400 and "declined" in page
    assert not await _delegated(signin_bot).is_signed_in(USER)


async def test_signing_in_as_someone_else_is_refused(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = EntraUser(oid="bbbbbbbb-0000-0000-0000-000000000000", name="Eve", upn="eve@x.com")
    status, page, _ = await _sign_in(signin_bot)
    assert status == 400 and "different account" in page
    assert not await _delegated(signin_bot).is_signed_in(USER)


async def test_an_expiring_token_is_refreshed_silently(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    entra_users.access_token_lifetime = 60  # inside MSAL's refresh window
    await _sign_in(signin_bot)
    before = entra_users.refreshes
    await _delegated(signin_bot).get_token(USER)
    assert entra_users.refreshes == before + 1


async def test_a_rejected_refresh_token_asks_to_sign_in_again_and_forgets_the_cache(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    entra_users.signed_in_user = ANA
    entra_users.access_token_lifetime = 60
    await _sign_in(signin_bot)
    entra_users.reject_refresh = True
    with pytest.raises(SignInRequired):
        await _delegated(signin_bot).get_token(USER)
    assert not await _delegated(signin_bot).is_signed_in(USER)


async def test_not_signed_in_raises_sign_in_required(signin_bot: SignInBot) -> None:
    with pytest.raises(SignInRequired):
        await _delegated(signin_bot).get_token(USER)


async def test_signing_out_deletes_the_stored_sign_in(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    await _sign_in(signin_bot)
    assert await _delegated(signin_bot).sign_out(USER)
    assert not await _delegated(signin_bot).is_signed_in(USER)
    with pytest.raises(SignInRequired):
        await _delegated(signin_bot).get_token(USER)


async def test_the_chat_that_started_sign_in_is_told(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    await _install(signin_bot)
    await _sign_in(signin_bot, CHAT)
    (told,) = await signin_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert told.conversation_id == CHAT
    assert "You're signed in" in card_texts(told.activity["attachments"][0]["content"])


async def test_features_hear_that_someone_signed_in(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    entra_users.signed_in_user = ANA
    heard: list[SignedIn] = []

    async def remember(event: SignedIn) -> None:
        heard.append(event)

    _services(signin_bot).events.subscribe(SignedIn, remember)
    await _sign_in(signin_bot, CHAT)
    assert [(e.user, e.conversation_id) for e in heard] == [(USER, CHAT)]


async def test_a_features_sign_in_card_links_to_couriers_sign_in_start(signin_bot: SignInBot) -> None:
    message = activity(text="probe signin", serviceUrl=signin_bot.connector.url)
    assert (await signin_bot.post(message, signin_bot.token())).status == 200
    arrived = await signin_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    card = arrived[0].activity["attachments"][0]["content"]
    assert SIGN_IN_REASON in card_texts(card)
    assert card["actions"][0]["type"] == "Action.OpenUrl"
    assert card["actions"][0]["url"].startswith(f"{signin_bot.url}/auth/start?state=")
