"""Admin consent: redirect to Entra, record the outcome on the tenant, tell the chat that asked."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from bot.platform.identity.consent import CONSENT_TTL, AdminConsent
from bot.platform.services import Services
from bot.platform.storage.models import TenantStatus
from bot.sandbox.emulators.connector import Recorded
from bot.sandbox.emulators.entra_delegated import DelegatedState
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.signin import TENANT, SignInBot
from tests.support.turns import activity

CHAT = "a:1personal-chat"


def _services(bot: SignInBot) -> Services:
    assert bot.services is not None
    return bot.services


def _consent(bot: SignInBot) -> AdminConsent:
    identity = _services(bot).identity
    assert identity is not None and identity.consent is not None
    return identity.consent


async def _follow(bot: SignInBot, link: str) -> tuple[int, str]:
    """The admin follows Courier's link to Entra's consent page and back; returns the callback page."""
    start = await bot.get(link)
    assert start.status == 302
    entra_page = await bot.get(start.headers["Location"])
    callback = await bot.get(entra_page.headers["Location"])
    return callback.status, await callback.text()


async def _consent_asked_from_the_chat(bot: SignInBot) -> tuple[int, str]:
    """Courier is in the admin's chat (the probe remembers it); a feature's consent link from there is followed."""
    install = activity("installationUpdate", action="add", serviceUrl=bot.connector.url)
    assert (await bot.post(install, bot.token())).status == 200
    return await _follow(bot, await _consent(bot).link(TENANT, CHAT))


def _texts(told: Recorded) -> list[str]:
    return card_texts(told.activity["attachments"][0]["content"])


async def test_admin_consent_redirects_to_the_tenants_consent_page(signin_bot: SignInBot) -> None:
    response = await signin_bot.get(f"{signin_bot.url}/admin/consent?tenant={TENANT}")
    assert response.status == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/{TENANT}/adminconsent"
    query = parse_qs(target.query)
    assert query["client_id"] == [signin_bot.settings.app_id]
    assert query["redirect_uri"] == [f"{signin_bot.url}/admin/consent/callback"]
    assert query["state"][0]


async def test_a_malformed_tenant_is_refused(signin_bot: SignInBot) -> None:
    response = await signin_bot.get(f"{signin_bot.url}/admin/consent?tenant=<script>")
    assert response.status == 400


async def test_granted_consent_marks_the_tenant_active_and_tells_the_chat(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    status, page = await _consent_asked_from_the_chat(signin_bot)
    assert status == 200 and "Consent granted" in page
    tenant = await _services(signin_bot).store.get_tenant(TENANT)
    assert tenant is not None and tenant.status is TenantStatus.ACTIVE
    (told,) = await signin_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert told.conversation_id == CHAT
    assert "Admin consent granted" in _texts(told)


async def test_denied_consent_is_recorded_and_the_admin_is_told_what_to_do(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    entra_users.deny_admin_consent = True
    status, page = await _consent_asked_from_the_chat(signin_bot)
    assert status == 200 and "not granted" in page.lower()
    tenant = await _services(signin_bot).store.get_tenant(TENANT)
    assert tenant is not None and tenant.status is TenantStatus.CONSENT_DENIED
    (told,) = await signin_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert "Admin consent was not granted" in _texts(told)
    assert any("Grant admin consent" in text for text in _texts(told))  # where an admin grants it instead


async def test_a_replayed_consent_callback_is_refused(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    start = await signin_bot.get(f"{signin_bot.url}/admin/consent?tenant={TENANT}")
    entra_page = await signin_bot.get(start.headers["Location"])
    callback = entra_page.headers["Location"]
    assert (await signin_bot.get(callback)).status == 200
    assert (await signin_bot.get(callback)).status == 400


async def test_an_expired_consent_link_is_refused(
    signin_bot: SignInBot, entra_users: DelegatedState, clock: FakeClock
) -> None:
    link = await _consent(signin_bot).link(TENANT, CHAT)
    clock.advance(CONSENT_TTL + timedelta(seconds=1))
    status, _ = await _follow(signin_bot, link)
    assert status == 400
    assert await _services(signin_bot).store.get_tenant(TENANT) is None
