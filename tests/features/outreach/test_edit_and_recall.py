"""Editing and recalling a notification over the HTTP API, end to end: the live app's engine changes every copy at
the connector emulator, and the status reports each revision's operations."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from app import FEATURES
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.server import create_app
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator, Recorded
from bot.sandbox.emulators.entra import EntraEmulator
from tests.support.cards import card_texts
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings
from tests.support.turns import activity

API_KEY = "test-api-key-0123456789abcdef"
ANA = "aaaaaaaa-1111-2222-3333-444444444444"
BEN = "bbbbbbbb-1111-2222-3333-444444444444"


def _card(text: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text, "wrap": True}]}


@pytest.fixture
async def api_bot(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator
) -> AsyncIterator[LiveBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        api_key_hashes=frozenset({hashlib.sha256(API_KEY.encode()).hexdigest()}),
    )
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield LiveBot(str(server.make_url("")).rstrip("/"), session, settings, bf_channel, connector)
    await server.close()


async def _call(bot: LiveBot, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    async with bot.session.request(method, f"{bot.url}{path}", headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def _delivered(bot: LiveBot, *users: str, ack: bool = False) -> tuple[str, list[Recorded]]:
    """A notification sent to ``users`` and arrived; its id and the sends as the connector recorded them."""
    body = {"idempotencyKey": "k", "recipients": [{"userId": u} for u in users], "card": _card("Version one")}
    status, created = await _call(bot, "POST", "/api/notifications", {**body, "ackRequired": ack})
    assert status == 202
    sent = await bot.connector.wait_for_async(lambda r: len([x for x in r if x.kind == "send"]) >= len(users))
    await _status_until(bot, created["id"], lambda s: s["totals"].get("sent") == len(users))
    return created["id"], [r for r in sent if r.kind == "send"]


async def _status_until(bot: LiveBot, nid: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The status once ``done`` holds (the ledger is written right after the connector answers)."""
    for _ in range(500):
        status, body = await _call(bot, "GET", f"/api/notifications/{nid}")
        assert status == 200
        if done(body):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"never reached: {body}")


def _shown(bot: LiveBot, sent: Recorded) -> list[str]:
    copy = bot.connector.copy(sent.id)
    assert copy is not None
    return card_texts(copy.activity["attachments"][0]["content"])


async def test_an_edit_updates_every_delivered_copy_in_place(api_bot: LiveBot) -> None:
    nid, sent = await _delivered(api_bot, ANA, BEN)
    status, answer = await _call(api_bot, "PATCH", f"/api/notifications/{nid}", {"card": _card("Version two")})
    assert status == 202 and answer == {"id": nid, "revision": 2, "status": f"/api/notifications/{nid}"}
    summary = await _status_until(api_bot, nid, lambda s: s["operations"][0]["updated"] == 2)
    assert [_shown(api_bot, s) for s in sent] == [["Version two"], ["Version two"]]
    assert summary["revision"] == 2 and summary["recalledAt"] is None
    (operation,) = summary["operations"]
    assert operation | {"createdAt": None} == {
        "revision": 2,
        "kind": "edit",
        "createdAt": None,
        "queued": 0,
        "inProgress": 0,
        "updated": 2,
        "alreadyCurrent": 0,
        "failed": {},
        "copies": 2,
    }


async def test_the_recipients_listing_shows_each_copys_revision(api_bot: LiveBot) -> None:
    nid, _ = await _delivered(api_bot, ANA)
    await _call(api_bot, "PATCH", f"/api/notifications/{nid}", {"card": _card("Version two")})
    await _status_until(api_bot, nid, lambda s: s["operations"][0]["updated"] == 1)
    _, listing = await _call(api_bot, "GET", f"/api/notifications/{nid}/recipients")
    assert [(r["key"], r["revision"]) for r in listing["recipients"]] == [(f"user:{ANA}", 2)]


async def test_an_acknowledged_copy_stays_acknowledged_with_the_new_content(api_bot: LiveBot) -> None:
    nid, sent = await _delivered(api_bot, ANA, ack=True)
    ack = next(a for a in sent[0].activity["attachments"][0]["content"]["actions"] if a.get("verb") == "ack")
    click = activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "ack", "data": ack["data"]}, "trigger": "manual"},
        serviceUrl=api_bot.connector.url,
    )
    click["from"]["aadObjectId"] = ANA
    assert (await api_bot.post(click, api_bot.token())).status == 200
    await _call(api_bot, "PATCH", f"/api/notifications/{nid}", {"card": _card("Version two")})
    await _status_until(api_bot, nid, lambda s: s["operations"][0]["updated"] == 1)
    shown = _shown(api_bot, sent[0])
    assert shown[0] == "Version two" and shown[-1].startswith("✔ Acknowledged at ")
    content = api_bot.connector.copy(sent[0].id).activity["attachments"][0]["content"]  # type: ignore[union-attr]
    assert "actions" not in content  # no second Acknowledge button


async def test_acknowledging_a_recalled_notification_says_it_was_withdrawn(api_bot: LiveBot) -> None:
    nid, sent = await _delivered(api_bot, ANA, ack=True)
    await _call(api_bot, "POST", f"/api/notifications/{nid}/recall")
    ack = next(a for a in sent[0].activity["attachments"][0]["content"]["actions"] if a.get("verb") == "ack")
    click = activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "ack", "data": ack["data"]}, "trigger": "manual"},
        serviceUrl=api_bot.connector.url,
    )
    click["from"]["aadObjectId"] = ANA
    answer = await (await api_bot.post(click, api_bot.token())).json()
    assert "This announcement was withdrawn" in card_texts(answer["value"])
    _, summary = await _call(api_bot, "GET", f"/api/notifications/{nid}")
    assert summary["totals"]["acknowledged"] == 0


async def test_an_unacknowledged_copy_keeps_its_acknowledge_button(api_bot: LiveBot) -> None:
    nid, sent = await _delivered(api_bot, ANA, ack=True)
    template = {"template": "announcement", "data": {"title": "Version two", "text": "Changed."}}
    status, _ = await _call(api_bot, "PATCH", f"/api/notifications/{nid}", template)
    assert status == 202
    await _status_until(api_bot, nid, lambda s: s["operations"][0]["updated"] == 1)
    content = api_bot.connector.copy(sent[0].id).activity["attachments"][0]["content"]  # type: ignore[union-attr]
    assert "Version two" in card_texts(content)
    assert [a["data"] for a in content["actions"]] == [{"verb": "ack", "notification": nid}]


async def test_a_copy_the_user_deleted_is_reported_by_reason(api_bot: LiveBot) -> None:
    nid, sent = await _delivered(api_bot, ANA, BEN)
    api_bot.connector.user_deletes(sent[0].id)
    await _call(api_bot, "PATCH", f"/api/notifications/{nid}", {"card": _card("Version two")})
    summary = await _status_until(
        api_bot,
        nid,
        lambda s: (
            s["operations"][0]["copies"] == 2
            and not s["operations"][0]["inProgress"]
            and not s["operations"][0]["queued"]
        ),
    )
    assert summary["operations"][0]["failed"] == {"copy_deleted": 1}
    assert summary["operations"][0]["updated"] == 1


async def test_a_recall_deletes_every_copy(api_bot: LiveBot) -> None:
    nid, sent = await _delivered(api_bot, ANA, BEN)
    status, answer = await _call(api_bot, "POST", f"/api/notifications/{nid}/recall")
    assert status == 202
    assert answer == {
        "id": nid,
        "revision": 2,
        "mode": "delete",
        "cancelled": 0,
        "copies": 2,
        "status": f"/api/notifications/{nid}",
    }
    summary = await _status_until(api_bot, nid, lambda s: s["operations"][0]["recalled"] == 2)
    assert all(api_bot.connector.copy(s.id).deleted for s in sent)  # type: ignore[union-attr]
    assert summary["status"] == "recalled" and summary["recalledAt"] is not None and summary["revision"] == 1
    assert summary["operations"][0]["kind"] == "recall" and summary["operations"][0]["mode"] == "delete"


async def test_a_recall_can_replace_every_copy_with_a_withdrawn_notice(api_bot: LiveBot) -> None:
    nid, sent = await _delivered(api_bot, ANA)
    status, _ = await _call(api_bot, "POST", f"/api/notifications/{nid}/recall", {"mode": "replace"})
    assert status == 202
    await _status_until(api_bot, nid, lambda s: s["operations"][0]["recalled"] == 1)
    assert "This announcement was withdrawn by its sender." in _shown(api_bot, sent[0])
    assert "Version one" not in _shown(api_bot, sent[0])


async def test_a_recall_cancels_what_was_not_sent_yet(api_bot: LiveBot) -> None:
    later = {"idempotencyKey": "later", "recipients": [{"userId": ANA}], "card": _card("Later")}
    _, created = await _call(api_bot, "POST", "/api/notifications", {**later, "sendAt": "2099-01-01T09:00:00Z"})
    status, answer = await _call(api_bot, "POST", f"/api/notifications/{created['id']}/recall")
    assert status == 202 and answer["cancelled"] == 1 and answer["copies"] == 0
    _, summary = await _call(api_bot, "GET", f"/api/notifications/{created['id']}")
    assert summary["totals"]["cancelled"] == 1


async def test_a_recalled_notification_cannot_be_recalled_or_edited_again(api_bot: LiveBot) -> None:
    nid, _ = await _delivered(api_bot, ANA)
    await _call(api_bot, "POST", f"/api/notifications/{nid}/recall")
    status, again = await _call(api_bot, "POST", f"/api/notifications/{nid}/recall")
    assert status == 409 and "recalled already" in again["error"]["message"]
    status, edit = await _call(api_bot, "PATCH", f"/api/notifications/{nid}", {"card": _card("Too late")})
    assert status == 409 and "recalled" in edit["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"card": {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock"}]}}, "card.body.0"),
        ({"card": {"type": "AdaptiveCard", "version": "2.0", "body": []}}, "card.version"),
        ({"template": "nope", "data": {}}, "template"),
        ({"card": _card("x"), "recipients": [{"userId": BEN}]}, "recipients"),
        ({}, "card"),
        ([], "body"),
    ],
)
async def test_an_invalid_edit_is_refused_and_changes_nothing(api_bot: LiveBot, body: Any, field: str) -> None:
    nid, _ = await _delivered(api_bot, ANA)
    status, problem = await _call(api_bot, "PATCH", f"/api/notifications/{nid}", body)
    assert status == 400 and problem["error"]["field"] == field
    _, summary = await _call(api_bot, "GET", f"/api/notifications/{nid}")
    assert summary["revision"] == 1 and summary["operations"] == []


@pytest.mark.parametrize(("body", "field"), [({"mode": "shred"}, "mode"), ({"mode": "delete", "x": 1}, "x")])
async def test_an_invalid_recall_is_refused(api_bot: LiveBot, body: Any, field: str) -> None:
    nid, _ = await _delivered(api_bot, ANA)
    status, problem = await _call(api_bot, "POST", f"/api/notifications/{nid}/recall", body)
    assert status == 400 and problem["error"]["field"] == field


async def test_an_unknown_notification_cannot_be_edited_or_recalled(api_bot: LiveBot) -> None:
    status, _ = await _call(api_bot, "PATCH", "/api/notifications/unknown", {"card": _card("x")})
    assert status == 404
    status, _ = await _call(api_bot, "POST", "/api/notifications/unknown/recall")
    assert status == 404


async def test_edit_and_recall_need_a_key(api_bot: LiveBot) -> None:
    nid, _ = await _delivered(api_bot, ANA)
    async with api_bot.session.patch(f"{api_bot.url}/api/notifications/{nid}", json={"card": _card("x")}) as r:
        assert r.status == 401
    async with api_bot.session.post(f"{api_bot.url}/api/notifications/{nid}/recall") as r:
        assert r.status == 401


async def test_an_edit_and_a_recall_follow_into_the_nudges(api_bot: LiveBot) -> None:
    nid, _ = await _delivered(api_bot, ANA, ack=True)
    status, nudged = await _call(api_bot, "POST", f"/api/notifications/{nid}/nudge")
    assert status == 202
    await _status_until(api_bot, nudged["id"], lambda s: s["totals"].get("sent") == 1)
    reminder = [r for r in api_bot.connector.recorded if r.kind == "send"][-1]
    await _call(api_bot, "PATCH", f"/api/notifications/{nid}", {"card": _card("Version two")})
    await _status_until(api_bot, nudged["id"], lambda s: s["operations"] and s["operations"][0]["updated"] == 1)
    assert _shown(api_bot, reminder)[:2] == ["Reminder: please read and acknowledge", "Version two"]
    await _call(api_bot, "POST", f"/api/notifications/{nid}/recall")
    await _status_until(api_bot, nudged["id"], lambda s: s["recalledAt"] and s["operations"][-1]["recalled"] == 1)
    assert api_bot.connector.copy(reminder.id).deleted  # type: ignore[union-attr]
