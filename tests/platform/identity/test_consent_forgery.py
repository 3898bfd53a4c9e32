"""Admin consent cannot be forged: the callback's own words are checked against its state and against Entra."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from bot.platform.identity.consent import CONSENT_NAMESPACE, CONSENT_TTL, AdminConsent
from bot.platform.storage.models import TenantStatus
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState
from tests.support.clock import FakeClock
from tests.support.live import APP_ID, SECRET
from tests.support.signin import TENANT, SignInBot

GRAPH = "https://graph.microsoft.com"
CONSENTED = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
GRAPH = "https://graph.microsoft.com"
CONSENTED = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
OTHER_TENANT = "0d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"


def _consent(bot: SignInBot) -> AdminConsent:
    assert bot.services is not None and bot.services.identity is not None
    consent = bot.services.identity.consent
    assert consent is not None
    return consent


async def _state_for(bot: SignInBot, tenant: str) -> str:
    start = await bot.get(f"{bot.url}/admin/consent?tenant={tenant}")
    assert start.status == 302
    return parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]


async def _callback(bot: SignInBot, **query: str) -> int:
    return (await bot.get(f"{bot.url}/admin/consent/callback?{urlencode(query)}")).status


async def test_a_state_issued_for_one_tenant_cannot_consent_for_another(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    state = await _state_for(signin_bot, TENANT)
    assert await _callback(signin_bot, state=state, tenant=OTHER_TENANT, admin_consent="True") == 400
    assert signin_bot.services is not None
    assert await signin_bot.services.store.get_tenant(OTHER_TENANT) is None


async def test_granted_is_recorded_only_when_entra_issues_a_token_for_the_tenant(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    state = await _state_for(signin_bot, OTHER_TENANT)  # Courier is not registered in this tenant at all
    assert await _callback(signin_bot, state=state, tenant=OTHER_TENANT, admin_consent="True") == 200
    assert signin_bot.services is not None
    record = await signin_bot.services.store.get_tenant(OTHER_TENANT)
    assert record is not None and record.status is not TenantStatus.ACTIVE


async def test_a_forged_decline_does_not_undo_a_real_consent(
    signin_bot: SignInBot, entra: EntraEmulator, entra_users: DelegatedState
) -> None:
    # An admin of CONSENTED granted Courier its roles; someone replays the callback claiming a decline.
    entra.register_app(APP_ID, tenant=CONSENTED, secret=SECRET, roles={GRAPH: ("User.Read.All",)})
    state = await _state_for(signin_bot, CONSENTED)
    assert await _callback(signin_bot, state=state, error="access_denied") == 200
    assert signin_bot.services is not None
    record = await signin_bot.services.store.get_tenant(CONSENTED)
    assert record is not None and record.status is TenantStatus.ACTIVE


async def test_an_oversized_tenant_is_refused_and_nothing_is_stored(signin_bot: SignInBot) -> None:
    response = await signin_bot.get(f"{signin_bot.url}/admin/consent?tenant={'a' * 5000}.com")
    assert response.status == 400
    assert signin_bot.services is not None
    assert await signin_bot.services.store.values(CONSENT_NAMESPACE) == []


async def test_expired_states_are_pruned_when_a_new_one_is_issued(signin_bot: SignInBot, clock: FakeClock) -> None:
    await _state_for(signin_bot, TENANT)
    clock.advance(CONSENT_TTL + timedelta(minutes=1))
    fresh = await _state_for(signin_bot, TENANT)
    assert signin_bot.services is not None
    assert [state for state, _ in await signin_bot.services.store.values(CONSENT_NAMESPACE)] == [fresh]
