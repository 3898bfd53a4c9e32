"""The console's platform endpoints over real HTTP: browser sign-in and its cookie session (CSRF, sign-out), Teams
single sign-on tokens (and the ones refused), roles from settings and Entra groups, /api/me, settings, conversations."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import msal

from bot.platform.storage.models import ConversationKind, ConversationRecord
from bot.sandbox.emulators.keys import SigningKey, now
from tests.support.console import ADMIN, API_KEY, GROUPIE, READER, SENDER, ConsoleBot
from tests.support.live import APP_ID, SECRET, TENANT


async def test_browser_sign_in_makes_a_session_that_knows_the_person(console_bot: ConsoleBot) -> None:
    browser, _ = await console_bot.signed_in(SENDER)
    async with browser.get(f"{console_bot.url}/api/me") as response:
        me = await response.json()
    assert (me["id"], me["name"], me["tenantId"], me["roles"]) == (SENDER.oid, SENDER.name, TENANT, ["sender"])
    assert me["session"] is True and me["zone"] == "UTC"


async def test_the_session_cookie_is_http_only_and_lax_and_holds_no_identity(console_bot: ConsoleBot) -> None:
    browser, _ = await console_bot.signed_in(READER)
    (cookie,) = list(browser.cookie_jar)
    assert cookie.key == "courier_session"
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert READER.oid not in cookie.value and READER.upn not in cookie.value


async def test_the_session_is_stored_encrypted_under_a_digest_of_its_id(console_bot: ConsoleBot) -> None:
    browser, _ = await console_bot.signed_in(READER)
    (cookie,) = list(browser.cookie_jar)
    stored = await console_bot.services.store.values("console_session")
    assert len(stored) == 1 and stored[0][0] != cookie.value
    assert READER.oid not in str(stored[0][1]) and str(stored[0][1]).startswith("v1.")


async def test_a_state_change_with_a_session_but_without_its_csrf_header_is_refused(console_bot: ConsoleBot) -> None:
    browser, _ = await console_bot.signed_in(READER)
    async with browser.patch(f"{console_bot.url}/api/me/settings", json={"zone": "Europe/Paris"}) as response:
        assert response.status == 403
    async with browser.get(f"{console_bot.url}/api/me") as response:
        assert (await response.json())["zone"] == "UTC"


async def test_a_state_change_with_the_csrf_header_is_made(console_bot: ConsoleBot) -> None:
    browser, csrf = await console_bot.signed_in(READER)
    headers = {"X-CSRF-Token": csrf}
    body = {"zone": "Europe/Paris", "quietHours": {"start": "20:00", "end": "08:00"}}
    async with browser.patch(f"{console_bot.url}/api/me/settings", json=body, headers=headers) as response:
        me = await response.json()
    assert response.status == 200
    assert me["zone"] == "Europe/Paris" and me["quietHours"] == {"start": "20:00", "end": "08:00"}


async def test_signing_out_ends_the_session(console_bot: ConsoleBot) -> None:
    browser, csrf = await console_bot.signed_in(READER)
    async with browser.post(f"{console_bot.url}/console/signout", headers={"X-CSRF-Token": csrf}) as response:
        assert response.status == 200
    assert await console_bot.services.store.values("console_session") == []
    async with browser.get(f"{console_bot.url}/api/me") as response:
        assert response.status == 401


async def test_a_sign_in_callback_courier_did_not_start_is_refused(console_bot: ConsoleBot) -> None:
    status, body = await console_bot.call("GET", "/console/callback?code=stolen&state=made-up")
    assert status == 400 and "already used" in body


async def test_a_sign_in_finished_in_another_browser_is_refused(console_bot: ConsoleBot) -> None:
    """Login CSRF: someone starts a sign-in as themselves and sends another person's browser to the callback."""
    console_bot.people.signed_in_user = READER
    attacker = aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(ssl=console_bot.test_ca.client_ssl_context()),
    )
    async with attacker:
        async with attacker.get(f"{console_bot.url}/console/signin", allow_redirects=False) as response:
            authorize = response.headers["Location"]
        async with attacker.get(authorize, allow_redirects=False) as response:
            callback = response.headers["Location"]
    async with console_bot.session.get(callback, allow_redirects=False) as response:
        assert response.status == 400 and "another browser" in await response.text()
    assert await console_bot.services.store.values("console_session") == []


async def test_a_teams_sso_token_identifies_the_person(console_bot: ConsoleBot) -> None:
    status, me = await console_bot.call("GET", "/api/me", token=console_bot.sso(READER))
    assert status == 200
    assert (me["id"], me["name"], me["roles"], me["session"]) == (READER.oid, READER.name, [], False)
    assert "csrfToken" not in me


async def test_members_of_the_senders_group_are_senders_through_nested_groups(console_bot: ConsoleBot) -> None:
    status, me = await console_bot.call("GET", "/api/me", token=console_bot.sso(GROUPIE))
    assert status == 200 and me["roles"] == ["sender"]
    assert console_bot.graph.requests_to(f"/v1.0/users/{GROUPIE.oid}/checkMemberGroups") == 1


async def test_listed_admins_are_admins(console_bot: ConsoleBot) -> None:
    status, me = await console_bot.call("GET", "/api/me", token=console_bot.sso(ADMIN))
    assert status == 200 and me["roles"] == ["admin"]


async def test_without_credentials_api_me_is_401(console_bot: ConsoleBot) -> None:
    status, _ = await console_bot.call("GET", "/api/me")
    assert status == 401


async def test_a_forged_token_is_401(console_bot: ConsoleBot) -> None:
    issued = now()
    claims = {
        "aud": f"api://127.0.0.1/{APP_ID}",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "tid": TENANT,
        "oid": ADMIN.oid,
        "scp": "access_as_user",
        "iat": issued,
        "exp": issued + 3600,
    }
    forged = SigningKey(kid=console_bot.entra.key.kid).sign(claims)  # the right key id, the wrong key
    status, _ = await console_bot.call("GET", "/api/me", token=forged)
    assert status == 401


async def test_an_expired_sso_token_is_401(console_bot: ConsoleBot) -> None:
    status, _ = await console_bot.call("GET", "/api/me", token=console_bot.sso(SENDER, expires_in=-3600))
    assert status == 401


async def test_a_token_for_another_resource_is_401(console_bot: ConsoleBot) -> None:
    token = console_bot.sso(SENDER, resource="https://graph.microsoft.com")
    status, _ = await console_bot.call("GET", "/api/me", token=token)
    assert status == 401


async def test_a_token_without_the_access_as_user_scope_is_401(console_bot: ConsoleBot) -> None:
    status, _ = await console_bot.call("GET", "/api/me", token=console_bot.sso(SENDER, scope="User.Read"))
    assert status == 401


async def test_a_token_from_another_tenant_is_401(console_bot: ConsoleBot) -> None:
    token = console_bot.sso(SENDER, tenant=str(uuid.uuid4()))
    status, _ = await console_bot.call("GET", "/api/me", token=token)
    assert status == 401


async def test_api_keys_are_not_people(console_bot: ConsoleBot) -> None:
    status, _ = await console_bot.call("GET", "/api/me", token=API_KEY)
    assert status == 403


async def test_an_unknown_zone_is_refused_naming_the_field(console_bot: ConsoleBot) -> None:
    status, body = await console_bot.call(
        "PATCH", "/api/me/settings", token=console_bot.sso(READER), json={"zone": "Mars/Olympus"}
    )
    assert status == 400 and body["error"]["field"] == "zone"


async def test_malformed_quiet_hours_are_refused_naming_the_field(console_bot: ConsoleBot) -> None:
    status, body = await console_bot.call(
        "PATCH", "/api/me/settings", token=console_bot.sso(READER), json={"quietHours": {"start": "25:00"}}
    )
    assert status == 400 and body["error"]["field"] == "quietHours"


async def _a_channel(bot: ConsoleBot) -> None:
    await bot.services.store.upsert_conversation(
        ConversationRecord(
            conversation_id="19:general@thread.tacv2",
            tenant_id=TENANT,
            kind=ConversationKind.CHANNEL,
            service_url=bot.connector.url,
            reference={"conversation": {"id": "19:general@thread.tacv2"}},
            team_id="19:team@thread.tacv2",
            channel_id="19:general@thread.tacv2",
            name="General",
        )
    )


async def test_senders_list_the_channels_courier_is_in(console_bot: ConsoleBot) -> None:
    await _a_channel(console_bot)
    status, body = await console_bot.call("GET", "/api/conversations", token=console_bot.sso(SENDER))
    assert status == 200
    assert [(c["id"], c["kind"], c["name"]) for c in body["conversations"]] == [
        ("19:general@thread.tacv2", "channel", "General")
    ]


async def test_non_senders_may_not_list_conversations(console_bot: ConsoleBot) -> None:
    await _a_channel(console_bot)
    status, _ = await console_bot.call("GET", "/api/conversations", token=console_bot.sso(READER))
    assert status == 403
    status, _ = await console_bot.call("GET", "/api/conversations")
    assert status == 401


async def test_without_credentials_settings_and_signout_are_401(console_bot: ConsoleBot) -> None:
    status, _ = await console_bot.call("PATCH", "/api/me/settings", json={"zone": "Europe/Paris"})
    assert status == 401
    status, _ = await console_bot.call("POST", "/console/signout")
    assert status == 401


async def test_signing_out_without_the_csrf_header_keeps_the_session(console_bot: ConsoleBot) -> None:
    browser, _ = await console_bot.signed_in(READER)
    async with browser.post(f"{console_bot.url}/console/signout") as response:
        assert response.status == 403
    async with browser.get(f"{console_bot.url}/api/me") as response:
        assert response.status == 200


async def test_a_token_entra_issues_for_the_access_as_user_scope_is_accepted(console_bot: ConsoleBot) -> None:
    """The local tenant's authorization-code flow for Courier's own scope (what Teams does for the tab) yields a
    token Courier accepts: its audience is the scope's resource, its scope access_as_user."""
    console_bot.people.signed_in_user = GROUPIE
    scope = f"api://127.0.0.1/{APP_ID}/access_as_user"
    client = msal.ConfidentialClientApplication(
        APP_ID,
        client_credential=SECRET,
        authority=f"{console_bot.entra.url}/{TENANT}",
        instance_discovery=False,
    )
    flow = client.initiate_auth_code_flow([scope], redirect_uri="https://teams.microsoft.com/auth-end")
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=console_bot.test_ca.client_ssl_context())) as browser,
        browser.get(flow["auth_uri"], allow_redirects=False) as response,
    ):
        back = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    result = await asyncio.to_thread(client.acquire_token_by_auth_code_flow, flow, back)
    status, me = await console_bot.call("GET", "/api/me", token=result["access_token"])
    assert status == 200 and me["id"] == GROUPIE.oid
