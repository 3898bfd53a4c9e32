"""Bad input at every edge of the whole app, on SQLite and PostgreSQL: a clear 4xx, never a 500, nothing stored.

Each test is one input the adversarial pass of issue 12 turned into a 500 (deep JSON, NUL characters that
PostgreSQL cannot store, wrong-typed fields, dates out of range, cards nested too deeply, a sign-in answer without
a code)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.platform.identity.delegated import DelegatedAuth, UserRef
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.support.edge import EdgeBot, edge_app, stored_rows
from tests.support.live import TENANT
from tests.support.signin import USER_OID
from tests.support.turns import activity

ANA = "aaaaaaaa-1111-2222-3333-444444444444"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Hello"}]}
DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.fixture
async def edge(
    tmp_path: Path,
    database_url: str,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
) -> AsyncIterator[EdgeBot]:
    async with edge_app(tmp_path, database_url, (bf_channel, entra, connector, test_ca)) as bot:
        yield bot


def _notification(**changes: Any) -> dict[str, Any]:
    return {"idempotencyKey": "k-1", "tenantId": TENANT, "recipients": [{"userId": ANA}], "card": CARD, **changes}


async def _refused_api(edge: EdgeBot, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to /api/notifications; its status and error, after checking nothing was stored."""
    before = await stored_rows(edge.db)
    async with edge.session.post(
        f"{edge.url}/api/notifications", data=body, headers=edge.api_headers(**{"Content-Type": "application/json"})
    ) as response:
        answer = await response.json()
        status = response.status
    assert await stored_rows(edge.db) == before
    return status, answer.get("error", {})


async def test_a_notification_body_nested_50000_levels_is_a_bad_request(edge: EdgeBot) -> None:
    status, _ = await _refused_api(edge, b'{"idempotencyKey": "k", "card": ' + DEEP + b"}")
    assert status == 400


async def test_an_activity_nested_50000_levels_is_a_bad_request(edge: EdgeBot) -> None:
    before = await stored_rows(edge.db)
    response = await edge.post_raw(
        "/api/messages", b'{"type": "message", "value": ' + DEEP + b"}", {"Authorization": f"Bearer {edge.token()}"}
    )
    assert response.status == 400 and await stored_rows(edge.db) == before


@pytest.mark.parametrize("template", [["announcement"], {"name": "announcement"}])
async def test_a_template_that_is_not_a_name_is_a_bad_request_naming_it(edge: EdgeBot, template: Any) -> None:
    body = _notification(template=template, data={"title": "t", "text": "x"})
    body.pop("card")
    status, error = await _refused_api(edge, json.dumps(body).encode())
    assert status == 400 and error["field"] == "template"


async def test_template_data_with_a_key_named_self_is_queued_or_refused_never_a_500(edge: EdgeBot) -> None:
    body = _notification(template="announcement", data={"self": "x", "title": "Hello", "text": "World"})
    body.pop("card")
    async with edge.session.post(f"{edge.url}/api/notifications", json=body, headers=edge.api_headers()) as response:
        assert response.status in {202, 400}


@pytest.mark.parametrize(
    "send_at", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "2026-12-01T09:00"]
)
async def test_a_send_time_out_of_range_or_without_a_zone_is_a_bad_request_naming_it(
    edge: EdgeBot, send_at: str
) -> None:
    status, error = await _refused_api(edge, json.dumps(_notification(sendAt=send_at)).encode())
    assert status == 400 and error["field"] == "sendAt"


def _nested_card(levels: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"type": "TextBlock", "text": "deep"}
    for _ in range(levels // 2):  # each Container adds two levels (the object and its items list)
        inner = {"type": "Container", "items": [inner]}
    return {**CARD, "body": [inner]}


async def test_a_card_nested_90_levels_is_a_bad_request(edge: EdgeBot) -> None:
    status, _ = await _refused_api(edge, json.dumps(_notification(card=_nested_card(90))).encode())
    assert status == 400


async def test_a_card_nested_60_levels_is_a_bad_request_naming_the_card(edge: EdgeBot) -> None:
    status, error = await _refused_api(edge, json.dumps(_notification(card=_nested_card(60))).encode())
    assert status == 400 and error["field"] == "card" and "deeper than 40" in error["message"]


@pytest.mark.parametrize(
    "changes",
    [
        {"idempotencyKey": "key\u0000with-nul"},
        {"recipients": [{"conversationId": "a:chat\u0000"}]},
        {"card": {**CARD, "body": [{"type": "TextBlock", "text": "a\u0000b"}]}},
    ],
    ids=["idempotency key", "conversation id", "card text"],
)
async def test_a_nul_character_in_a_notification_is_a_bad_request(edge: EdgeBot, changes: dict[str, Any]) -> None:
    status, _ = await _refused_api(edge, json.dumps(_notification(**changes)).encode())
    assert status == 400


@pytest.mark.parametrize("suffix", ["", "/recipients", "/recipients?cursor=a%00", "/recipients?state=sent%00"])
async def test_a_nul_character_in_a_notification_path_or_query_finds_nothing(edge: EdgeBot, suffix: str) -> None:
    path_id = quote("abc\u0000def") if "?" not in suffix else "0" * 32
    async with edge.session.get(f"{edge.url}/api/notifications/{path_id}{suffix}", headers=edge.api_headers()) as got:
        assert got.status in {400, 404}


async def test_an_unknown_recipient_state_filter_is_a_bad_request(edge: EdgeBot) -> None:
    async with edge.session.post(
        f"{edge.url}/api/notifications", json=_notification(), headers=edge.api_headers()
    ) as response:
        created = await response.json()
    url = f"{edge.url}/api/notifications/{created['id']}/recipients?state=nonsense"
    async with edge.session.get(url, headers=edge.api_headers()) as response:
        assert response.status == 400


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "installationUpdate", "action": "add", "conversation": {"id": "a:chat\u0000", "tenantId": TENANT}},
        {"type": "message", "text": "insights\u0000 please", "conversation": {"id": "19:c@thread.tacv2"}},
        {"type": "conversationUpdate", "membersAdded": [{"id": "28:bot\u0000"}]},
    ],
    ids=["install", "channel message (insights ingest)", "members added"],
)
async def test_a_nul_character_in_an_activity_is_a_bad_request(edge: EdgeBot, changes: dict[str, Any]) -> None:
    data = activity(serviceUrl=edge.connector.url)
    data.update({**changes, "conversation": {**data["conversation"], **changes.get("conversation", {})}})
    before = await stored_rows(edge.db)
    response = await edge.activity(data)
    assert response.status == 400 and await stored_rows(edge.db) == before


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("adaptiveCard/action", None),
        ("adaptiveCard/action", {"action": {"type": "Action.Execute"}}),
        ("composeExtension/query", None),
        ("composeExtension/submitAction", {"commandId": 5}),
    ],
    ids=["card action without a value", "card action without a verb", "query without a value", "wrong command id"],
)
async def test_an_invoke_without_what_teams_always_sends_is_a_bad_request(edge: EdgeBot, name: str, value: Any) -> None:
    before = await stored_rows(edge.db)
    response = await edge.activity(activity("invoke", name=name, value=value, serviceUrl=edge.connector.url))
    assert response.status == 400 and await stored_rows(edge.db) == before


async def test_an_unknown_invoke_is_acknowledged_never_a_5xx(edge: EdgeBot) -> None:
    data = activity("invoke", name="composeExtension/query", value={"commandId": "nope"}, serviceUrl=edge.connector.url)
    assert (await edge.activity(data)).status == 200


async def test_a_graph_notification_nested_50000_levels_is_a_bad_request(edge: EdgeBot) -> None:
    before = await stored_rows(edge.db)
    response = await edge.post_raw("/api/graph/notifications", b'{"value": ' + DEEP + b"}")
    assert response.status == 400 and await stored_rows(edge.db) == before


def _delegated(edge: EdgeBot) -> DelegatedAuth:
    assert edge.services is not None and edge.services.identity is not None
    delegated = edge.services.identity.delegated
    assert delegated is not None
    return delegated


async def test_a_sign_in_answer_with_a_real_state_and_no_code_is_refused_and_signs_nobody_in(edge: EdgeBot) -> None:
    user = UserRef(TENANT, USER_OID)
    link = await _delegated(edge).begin(user, None)
    start = await edge.get(link)
    assert start.status == 302  # the state now holds a real flow
    state = dict(p.split("=", 1) for p in start.headers["Location"].split("?", 1)[1].split("&"))["state"]
    callback = await edge.get(f"{edge.url}/auth/callback?state={state}")
    assert callback.status == 400 and "no authorization code" in await callback.text()
    assert not await _delegated(edge).is_signed_in(user)


@pytest.mark.parametrize("path", ["/auth/start", "/auth/callback", "/admin/consent", "/admin/consent/callback"])
async def test_a_nul_character_in_a_sign_in_or_consent_link_is_refused(edge: EdgeBot, path: str) -> None:
    before = await stored_rows(edge.db)
    response = await edge.get(f"{edge.url}{path}?state=abc%00def&tenant={TENANT}&code=x")
    assert response.status == 400 and await stored_rows(edge.db) == before
