"""Admin consent: redirect to Entra, record the outcome on the tenant, tell the chat that asked."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from bot.platform.storage.models import TenantStatus
from tests.emulators.entra_delegated import DelegatedState
from tests.support.signin import TENANT, SignInBot
from tests.support.turns import activity


async def _consent_via_chat(bot: SignInBot) -> tuple[int, str]:
    install = activity("installationUpdate", action="add", serviceUrl=bot.connector.url)
    assert (await bot.post(install, bot.token())).status == 200
    await bot.post(activity(text="consent", serviceUrl=bot.connector.url), bot.token())
    arrived = await bot.connector.wait_for_async(lambda r: len(r) >= 2)
    link = arrived[1].activity["attachments"][0]["content"]["actions"][0]["url"]
    start = await bot.get(link)
    assert start.status == 302
    entra_page = await bot.get(start.headers["Location"])
    callback = await bot.get(entra_page.headers["Location"])
    return callback.status, await callback.text()


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
    status, page = await _consent_via_chat(signin_bot)
    assert status == 200 and "Consent granted" in page
    assert signin_bot.services is not None
    tenant = await signin_bot.services.store.get_tenant(TENANT)
    assert tenant is not None and tenant.status is TenantStatus.ACTIVE
    told = await signin_bot.connector.wait_for_async(lambda r: len(r) >= 3)
    assert "Admin consent granted" in json.dumps(told[2].activity)


async def test_denied_consent_is_recorded_and_the_admin_is_told_what_to_do(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    entra_users.deny_admin_consent = True
    status, page = await _consent_via_chat(signin_bot)
    assert status == 200 and "not granted" in page.lower()
    assert signin_bot.services is not None
    tenant = await signin_bot.services.store.get_tenant(TENANT)
    assert tenant is not None and tenant.status is TenantStatus.CONSENT_DENIED
    told = await signin_bot.connector.wait_for_async(lambda r: len(r) >= 3)
    text = json.dumps(told[2].activity)
    assert "was not granted" in text and "Grant admin consent" in text


async def test_a_replayed_consent_callback_is_refused(signin_bot: SignInBot, entra_users: DelegatedState) -> None:
    start = await signin_bot.get(f"{signin_bot.url}/admin/consent?tenant={TENANT}")
    entra_page = await signin_bot.get(start.headers["Location"])
    callback = entra_page.headers["Location"]
    assert (await signin_bot.get(callback)).status == 200
    assert (await signin_bot.get(callback)).status == 400
