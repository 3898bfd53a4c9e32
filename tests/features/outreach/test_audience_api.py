"""The notifications API's audiences and timing over HTTP: everyone, sendAt at a local time, important; every 400."""

from __future__ import annotations

import dataclasses
import hashlib
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
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings
from tests.support.turns import USER_AAD, activity

API_KEY = "test-api-key-0123456789abcdef"
ANA = "aaaaaaaa-1111-2222-3333-444444444444"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Town hall at nine"}]}
LATER = {"localTime": "09:00", "date": "2099-12-07"}


@pytest.fixture
async def api_bot(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator
) -> AsyncIterator[LiveBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        api_key_hashes=frozenset({hashlib.sha256(API_KEY.encode()).hexdigest()}),
        default_time_zone="Europe/Paris",
        admins=frozenset({USER_AAD}),  # the API key has no Teams sender: an admin reads its status in Teams
    )
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield LiveBot(str(server.make_url("")).rstrip("/"), session, settings, bf_channel, connector)
    await server.close()


async def _post(bot: LiveBot, body: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with bot.session.post(f"{bot.url}/api/notifications", json=body, headers=headers) as response:
        return response.status, await response.json()


async def _status(bot: LiveBot, notification_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with bot.session.get(f"{bot.url}/api/notifications/{notification_id}", headers=headers) as response:
        answer: dict[str, Any] = await response.json()
        return answer


def _notification(**changes: Any) -> dict[str, Any]:
    return {"idempotencyKey": "town-hall", "recipients": [{"userId": ANA}], "card": CARD, **changes}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_notification(recipients=[{"everyone": False}]), "recipients[0].everyone"),
        (_notification(recipients=[{"everyone": "yes"}]), "recipients[0].everyone"),
        (_notification(recipients=[{"everyone": True, "excludeGuests": "no"}]), "recipients[0].excludeGuests"),
        (_notification(recipients=[{"everyone": True, "userId": ANA}]), "recipients[0].userId"),
        (_notification(recipients=[{"everyone": True}, {"everyone": True, "excludeGuests": False}]), "recipients[1]"),
        (_notification(sendAt={"localTime": "9am", "date": "2099-12-07"}), "sendAt.localTime"),
        (_notification(sendAt={"localTime": "24:00", "date": "2099-12-07"}), "sendAt.localTime"),
        (_notification(sendAt={"localTime": "09:00+01:00", "date": "2099-12-07"}), "sendAt.localTime"),
        (_notification(sendAt={"localTime": "09:00"}), "sendAt.date"),
        (_notification(sendAt={"localTime": "09:00", "date": "2099-02-30"}), "sendAt.date"),
        (_notification(sendAt={"localTime": "09:00", "date": "2099-12-07T09:00:00Z"}), "sendAt.date"),
        (_notification(sendAt={"localTime": "09:00", "date": "9999-12-07"}), "sendAt.date"),
        (_notification(sendAt={**LATER, "dateTime": "2099-12-07T09:00:00Z"}), "sendAt.dateTime"),
        (_notification(sendAt={"date": "2099-12-07"}), "sendAt.localTime"),
        (_notification(important="yes"), "important"),
        (_notification(important=1), "important"),
    ],
)
async def test_invalid_audience_and_timing_name_the_field_and_queue_nothing(
    api_bot: LiveBot, body: dict[str, Any], field: str
) -> None:
    status, answer = await _post(api_bot, body)
    assert (status, answer["error"]["field"]) == (400, field)
    assert api_bot.connector.activities() == []


async def test_everyone_is_accepted_with_guests_left_out_by_default(api_bot: LiveBot) -> None:
    status, created = await _post(api_bot, _notification(recipients=[{"everyone": True}], sendAt=LATER))
    assert status == 202 and created["created"] is True


async def test_a_local_time_notification_reports_who_waits_for_their_morning(api_bot: LiveBot) -> None:
    status, created = await _post(api_bot, _notification(sendAt=LATER))
    assert status == 202
    summary = await _status(api_bot, created["id"])
    assert summary["localTime"] == {"date": "2099-12-07", "localTime": "09:00", "waiting": 1}
    assert summary["sendAt"].startswith("2099-12-07T08:00:00")  # 09:00 in the default zone, Paris (UTC+1)
    assert summary["totals"] == {"queued": 1, "acknowledged": 0}


async def test_a_local_time_already_past_is_sent_at_once(api_bot: LiveBot) -> None:
    status, _ = await _post(api_bot, _notification(sendAt={"localTime": "09:00", "date": "2020-01-06"}))
    assert status == 202
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert arrived[0].activity["attachments"][0]["content"]["body"][0]["text"] == "Town hall at nine"


async def test_an_important_notification_reports_its_activity_feed(api_bot: LiveBot) -> None:
    status, created = await _post(api_bot, _notification(important=True, sendAt=LATER))
    assert status == 202
    summary = await _status(api_bot, created["id"])
    assert summary["important"] is True and summary["activityFeed"] == {}


async def test_notify_status_shows_who_waits_and_the_activity_feed(api_bot: LiveBot) -> None:
    _, created = await _post(api_bot, _notification(sendAt=LATER, important=True))
    message = activity("message", text=f"notify status {created['id']}", serviceUrl=api_bot.connector.url)
    await api_bot.post(message, api_bot.token())
    replies = await api_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    card = replies[0].activity["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in next(b for b in card["body"] if b["type"] == "FactSet")["facts"]}
    assert facts["Waiting for 09:00 local time"] == "1 (2099-12-07)"
    assert facts["Activity feed"] == "0 sent, 0 failed"
