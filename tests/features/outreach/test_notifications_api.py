"""The notifications API over HTTP, end to end: auth, validation, idempotency, delivery, status, cancel, acks."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from app import FEATURES
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.server import create_app
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from tests.support.cards import card_texts
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings
from tests.support.turns import USER_AAD, activity

API_KEY = "test-api-key-0123456789abcdef"
OTHER_KEY = "another-api-key-0123456789abcdef"
ANA = "aaaaaaaa-1111-2222-3333-444444444444"
CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "Quarterly update", "wrap": True}],
}


@pytest.fixture
async def api_bot(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator
) -> AsyncIterator[LiveBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        api_key_hashes=frozenset(hashlib.sha256(k.encode()).hexdigest() for k in (API_KEY, OTHER_KEY)),
        admins=frozenset({USER_AAD}),  # the Teams user of the tests' activities may see API notifications
    )
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield LiveBot(str(server.make_url("")).rstrip("/"), session, settings, bf_channel, connector)
    await server.close()


async def _post(bot: LiveBot, body: Any, key: str | None = API_KEY) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with bot.session.post(f"{bot.url}/api/notifications", json=body, headers=headers) as response:
        return response.status, await response.json()


async def _get(bot: LiveBot, path: str) -> aiohttp.ClientResponse:
    return await bot.session.get(f"{bot.url}{path}", headers={"Authorization": f"Bearer {API_KEY}"})


def _notification(**changes: Any) -> dict[str, Any]:
    return {"idempotencyKey": "q3-update", "recipients": [{"userId": ANA}], "card": CARD, **changes}


async def test_without_a_key_nothing_is_accepted(api_bot: LiveBot) -> None:
    status, _ = await _post(api_bot, _notification(), key=None)
    assert status == 401
    status, _ = await _post(api_bot, _notification(), key="a-wrong-key-of-sufficient-length")
    assert status == 401


async def test_a_notification_is_delivered_to_its_recipient(api_bot: LiveBot) -> None:
    status, body = await _post(api_bot, _notification())
    assert status == 202 and body["status"] == f"/api/notifications/{body['id']}"
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert arrived[0].activity["attachments"][0]["content"]["body"][0]["text"] == "Quarterly update"
    assert arrived[0].activity["summary"] == "Quarterly update"


async def test_the_same_idempotency_key_sends_nothing_again(api_bot: LiveBot) -> None:
    _, first = await _post(api_bot, _notification())
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    status, again = await _post(api_bot, _notification(recipients=[{"userId": ANA}, {"upn": "ben@contoso.com"}]))
    assert status == 202 and again["id"] == first["id"] and again["created"] is False
    response = await _get(api_bot, f"/api/notifications/{first['id']}")
    totals = (await response.json())["totals"]
    assert sum(v for k, v in totals.items() if k != "acknowledged" and ":" not in k) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_notification(recipients=[]), "recipients"),
        (_notification(recipients=[{"userId": "not-a-guid"}]), "recipients[0].userId"),
        (_notification(recipients=[{"userId": ANA, "upn": "x@y.z"}]), "recipients[0]"),
        (_notification(recipients=[{"userId": ANA}, {"team": "engineering"}]), "recipients[1].team"),
        (_notification(recipients=[{"groupId": "all-staff"}]), "recipients[0].groupId"),
        (_notification(idempotencyKey=""), "idempotencyKey"),
        ({"idempotencyKey": "k", "recipients": [{"userId": ANA}], "template": "nope", "data": {}}, "template"),
        (
            _notification(card={"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock"}]}),
            "card.body.0",
        ),
        (_notification(card={**CARD, "body": [{"type": "TextBlock", "text": "x" * 30_000}]}), "card"),
        (_notification(sendAt="tomorrow"), "sendAt"),
        (_notification(tenantId="contoso"), "tenantId"),
    ],
)
async def test_invalid_input_names_the_field_and_queues_nothing(
    api_bot: LiveBot, body: dict[str, Any], field: str
) -> None:
    status, answer = await _post(api_bot, body)
    assert status == 400
    assert answer["error"]["field"] == field
    assert api_bot.connector.activities() == []


async def test_a_template_notification_is_rendered(api_bot: LiveBot) -> None:
    body = {
        "idempotencyKey": "benefits",
        "recipients": [{"userId": ANA}],
        "template": "announcement",
        "data": {"title": "Open enrolment closes Friday", "text": "Choose your benefits."},
    }
    status, _ = await _post(api_bot, body)
    assert status == 202
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert "Open enrolment closes Friday" in card_texts(arrived[0].activity["attachments"][0]["content"])


async def test_a_template_notification_asking_for_acknowledgements_has_one_button(api_bot: LiveBot) -> None:
    body = {
        "idempotencyKey": "benefits",
        "recipients": [{"userId": ANA}],
        "template": "announcement",
        "data": {"title": "Open enrolment closes Friday", "text": "Choose your benefits."},
        "ackRequired": True,
    }
    _, created = await _post(api_bot, body)
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    actions = arrived[0].activity["attachments"][0]["content"]["actions"]
    assert [(a["title"], a["data"]) for a in actions] == [
        ("Acknowledge", {"verb": "ack", "notification": created["id"]})
    ]


async def test_status_and_recipients_report_what_happened(api_bot: LiveBot) -> None:
    _, created = await _post(
        api_bot, _notification(recipients=[{"userId": ANA}, {"userId": "bbbbbbbb-1111-2222-3333-444444444444"}])
    )
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 2)
    summary = await (await _get(api_bot, f"/api/notifications/{created['id']}")).json()
    assert summary["totals"]["sent"] == 2 and summary["firstSentAt"]
    page = await (await _get(api_bot, f"/api/notifications/{created['id']}/recipients?state=sent")).json()
    assert [r["state"] for r in page["recipients"]] == ["sent", "sent"]
    exported = await (await _get(api_bot, f"/api/notifications/{created['id']}/recipients?format=csv")).text()
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0][:4] == ["recipient", "state", "reason", "attempts"] and len(rows) == 3


async def test_a_scheduled_notification_can_be_cancelled(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(sendAt="2099-01-01T09:00:00+01:00"))
    response = await api_bot.session.delete(
        f"{api_bot.url}/api/notifications/{created['id']}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert (await response.json())["cancelled"] == 1
    summary = await (await _get(api_bot, f"/api/notifications/{created['id']}")).json()
    assert summary["totals"]["cancelled"] == 1


async def test_another_key_cannot_read_a_notification(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification())
    response = await api_bot.session.get(f"{api_bot.url}/api/notifications/{created['id']}")
    assert response.status == 401


async def test_acknowledge_is_recorded_once_and_replaces_the_card(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True))
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    card = arrived[0].activity["attachments"][0]["content"]
    ack = next(a for a in card["actions"] if a.get("verb") == "ack")
    click = activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "ack", "data": ack["data"]}, "trigger": "manual"},
        serviceUrl=api_bot.connector.url,
        localTimezone="Europe/Paris",
    )
    click["from"]["aadObjectId"] = ANA
    response = await api_bot.post(click, api_bot.token())
    answer = await response.json()
    assert card_texts(answer["value"])[-1].startswith("✔ Acknowledged at ")
    click["id"] = "second-click"
    await api_bot.post(click, api_bot.token())
    summary = await (await _get(api_bot, f"/api/notifications/{created['id']}")).json()
    assert summary["totals"]["acknowledged"] == 1


BEN = "bbbbbbbb-1111-2222-3333-444444444444"


async def _nudge(bot: LiveBot, notification_id: str) -> aiohttp.ClientResponse:
    return await bot.session.post(
        f"{bot.url}/api/notifications/{notification_id}/nudge", headers={"Authorization": f"Bearer {API_KEY}"}
    )


async def _click_ack(bot: LiveBot, card: dict[str, Any], user: str) -> dict[str, Any]:
    ack = next(a for a in card["actions"] if a.get("verb") == "ack")
    click = activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "ack", "data": ack["data"]}, "trigger": "manual"},
        serviceUrl=bot.connector.url,
    )
    click["from"]["aadObjectId"] = user
    return dict(await (await bot.post(click, bot.token())).json())


async def test_a_nudge_reaches_only_who_has_not_acknowledged(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True, recipients=[{"userId": ANA}, {"userId": BEN}]))
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 2)
    await _click_ack(api_bot, arrived[0].activity["attachments"][0]["content"], ANA)
    response = await _nudge(api_bot, created["id"])
    assert response.status == 202
    assert (await response.json())["recipients"] == 1
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 3)
    reminder = arrived[2].activity["attachments"][0]["content"]
    assert card_texts(reminder)[0] == "Reminder: please read and acknowledge"
    bens_chat = next(c for c, body in api_bot.connector.created.items() if body["members"][0]["id"] == BEN)
    assert arrived[2].conversation_id == bens_chat


async def test_another_callers_status_and_nudge_find_nothing_and_leave_the_owners_nudge(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True))
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    base = f"{api_bot.url}/api/notifications/{created['id']}"
    for method, url in (("GET", base), ("GET", f"{base}/recipients"), ("POST", f"{base}/nudge")):
        async with api_bot.session.request(method, url, headers=other) as response:
            assert response.status == 404
    assert (await _nudge(api_bot, created["id"])).status != 409  # not "nudged less than an hour ago"


async def test_acknowledging_a_nudge_counts_on_the_original(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True))
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    await _nudge(api_bot, created["id"])
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 2)
    await _click_ack(api_bot, arrived[1].activity["attachments"][0]["content"], ANA)
    summary = await (await _get(api_bot, f"/api/notifications/{created['id']}")).json()
    assert summary["totals"]["acknowledged"] == 1


async def test_a_second_nudge_within_the_hour_is_refused_with_retry_after(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True))
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert (await _nudge(api_bot, created["id"])).status == 202
    again = await _nudge(api_bot, created["id"])
    assert again.status == 409
    assert 3000 < int(again.headers["Retry-After"]) <= 3600


async def test_a_notification_without_acknowledgements_cannot_be_nudged(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification())
    response = await _nudge(api_bot, created["id"])
    assert response.status == 409
    assert "did not ask for acknowledgements" in (await response.json())["error"]["message"]


async def test_when_everyone_acknowledged_a_nudge_sends_nothing(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True))
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    await _click_ack(api_bot, arrived[0].activity["attachments"][0]["content"], ANA)
    response = await _nudge(api_bot, created["id"])
    assert response.status == 200 and (await response.json())["recipients"] == 0


async def test_notify_status_in_teams_shows_the_totals_card(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True))
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    message = activity("message", text=f"notify status {created['id']}", serviceUrl=api_bot.connector.url)
    await api_bot.post(message, api_bot.token())
    replies = await api_bot.connector.wait_for_async(lambda r: len(r) >= 2)
    card = replies[1].activity["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in next(b for b in card["body"] if b["type"] == "FactSet")["facts"]}
    assert facts["Sent"] == "1" and facts["Acknowledged"] == "0 (0%)"
    assert any(a.get("verb") == "nudge" for a in card["actions"])


async def test_notify_status_in_teams_of_an_api_notification_refuses_who_is_not_an_admin(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(ackRequired=True))
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    message = activity("message", text=f"notify status {created['id']}", serviceUrl=api_bot.connector.url)
    message["from"]["aadObjectId"] = "bbbbbbbb-1111-2222-3333-444444444444"
    await api_bot.post(message, api_bot.token())
    replies = await api_bot.connector.wait_for_async(lambda r: len(r) >= 2)
    assert card_texts(replies[1].activity["attachments"][0]["content"])[-2:] == [
        "Not your notification",
        "Only the person who sent it, or a Courier admin, can see or nudge it.",
    ]


CALLER = "c0c0c0c0-1111-2222-3333-444444444444"
OTHER_TENANT = "0f0f0f0f-1111-2222-3333-444444444444"


async def _entra_token(entra: EntraEmulator, tenant: str, client_id: str) -> str:
    context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])  # the test CA (see fixtures)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
        session.post(
            f"{entra.url}/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": "caller-secret",
                "scope": f"api://{APP_ID}/.default",
            },
        ) as response,
    ):
        return str((await response.json())["access_token"])


async def _post_with(bot: LiveBot, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with bot.session.post(f"{bot.url}/api/notifications", json=_notification(), headers=headers) as response:
        return response.status


async def test_an_entra_token_with_the_send_role_is_accepted(api_bot: LiveBot, entra: EntraEmulator) -> None:
    entra.register_app(
        CALLER, tenant=TENANT, secret="caller-secret", roles={f"api://{APP_ID}": ("Notifications.Send",)}
    )
    assert await _post_with(api_bot, await _entra_token(entra, TENANT, CALLER)) == 202
    await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)


async def test_an_entra_token_without_the_send_role_is_refused(api_bot: LiveBot, entra: EntraEmulator) -> None:
    entra.register_app(CALLER, tenant=TENANT, secret="caller-secret")
    assert await _post_with(api_bot, await _entra_token(entra, TENANT, CALLER)) == 401
    assert api_bot.connector.activities() == []


async def test_an_entra_token_from_another_tenant_is_refused(api_bot: LiveBot, entra: EntraEmulator) -> None:
    entra.register_app(
        CALLER, tenant=OTHER_TENANT, secret="caller-secret", roles={f"api://{APP_ID}": ("Notifications.Send",)}
    )
    assert await _post_with(api_bot, await _entra_token(entra, OTHER_TENANT, CALLER)) == 401


async def test_an_expired_entra_token_is_refused(api_bot: LiveBot, entra: EntraEmulator) -> None:
    token = entra.issue_token(
        audience=f"api://{APP_ID}", tenant=TENANT, client_id=CALLER, expires_in=-3600, roles=["Notifications.Send"]
    )
    assert await _post_with(api_bot, token) == 401


async def test_a_token_signed_by_another_key_is_refused(api_bot: LiveBot) -> None:
    from bot.sandbox.emulators.keys import SigningKey, now

    forged = SigningKey().sign(
        {
            "aud": f"api://{APP_ID}",
            "iss": f"https://sts.windows.net/{TENANT}/",
            "tid": TENANT,
            "azp": CALLER,
            "roles": ["Notifications.Send"],
            "iat": now(),
            "exp": now() + 3600,
        }
    )
    assert await _post_with(api_bot, forged) == 401


async def test_a_token_for_another_audience_is_refused(api_bot: LiveBot, entra: EntraEmulator) -> None:
    token = entra.issue_token(
        audience="https://graph.microsoft.com",
        tenant=TENANT,
        client_id=CALLER,
        expires_in=3600,
        roles=["Notifications.Send"],
    )
    assert await _post_with(api_bot, token) == 401


def _announcement(key: str, **data: Any) -> dict[str, Any]:
    fields = {"title": "Benefits", "text": "Choose yours.", **data}
    return {"idempotencyKey": key, "recipients": [{"userId": ANA}], "template": "announcement", "data": fields}


def _card_opening(url: str) -> dict[str, Any]:
    return {**CARD, "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": url}]}


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<b>x</b>", "ftp://x"])
async def test_a_raw_card_linking_anywhere_but_https_mail_or_phone_is_refused(api_bot: LiveBot, url: str) -> None:
    status, body = await _post(api_bot, _notification(card=_card_opening(url)))
    assert status == 400 and "https:, mailto: or tel:" in str(body)


async def test_a_template_link_with_javascript_is_refused(api_bot: LiveBot) -> None:
    status, body = await _post(api_bot, _announcement("js-link", link="javascript:alert(1)"))
    assert status == 400 and "https:, mailto: or tel:" in str(body)


@pytest.mark.parametrize("url", ["https://contoso.com/benefits", "mailto:hr@contoso.com", "tel:+15550100"])
async def test_safe_links_are_accepted(api_bot: LiveBot, url: str) -> None:
    status, _ = await _post(api_bot, _notification(card=_card_opening(url), idempotencyKey=f"safe-{url[:5]}"))
    assert status == 202


@pytest.mark.parametrize("template", [["announcement"], {"name": "announcement"}, 7])
async def test_a_template_that_is_not_a_name_is_a_400(api_bot: LiveBot, template: Any) -> None:
    status, body = await _post(api_bot, {**_announcement("odd-template"), "template": template})
    assert status == 400 and "template" in str(body)


async def test_a_data_key_named_self_is_plain_data(api_bot: LiveBot) -> None:
    status, _ = await _post(api_bot, _announcement("self-key", self="x"))
    assert status == 202
