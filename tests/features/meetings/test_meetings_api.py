"""The meetings API for other systems: create (idempotently), move, cancel, read back with Outlook's changes, the
organizer's lapsed sign-in (409 and a card in Teams), and the refusals (401, 403, 400)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_calendar import CalendarState
from bot.sandbox.emulators.tls import TestCA
from tests.features.meetings.rig import ANA, MeetingBot, at, meeting_bot_running
from tests.support.clock import FakeClock
from tests.support.live import APP_ID, TENANT
from tests.support.signin import USER_OID

KEY = "crm-api-key-" + "k" * 20
CALLER = "0d5a6f1e-7777-4a4a-9b9b-123456789abc"


@pytest.fixture
async def api_bot(
    tmp_path: Path,
    clock: FakeClock,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
    calendar_graph: tuple[GraphEmulator, CalendarState],
) -> AsyncIterator[MeetingBot]:
    graph, calendar = calendar_graph
    graph.add_user(USER_OID, ANA.upn, ANA.name)
    emulators = (bf_channel, entra, connector, test_ca)
    keys = frozenset({hashlib.sha256(KEY.encode()).hexdigest()})
    async with meeting_bot_running(
        tmp_path, clock, emulators, graph.url, calendar, graph_roles=("User.Read.All",), api_key_hashes=keys
    ) as running:
        yield running


def _body(bot: MeetingBot, **changes: Any) -> dict[str, Any]:
    start = at(bot.day(1), 15).isoformat() + "Z"
    end = at(bot.day(1), 15, 30).isoformat() + "Z"
    body = {
        "idempotencyKey": "crm-42",
        "organizer": USER_OID,
        "subject": "Onboarding call",
        "start": start,
        "end": end,
        "attendees": ["carla@contoso.com"],
    }
    return {**body, **changes}


async def _call(
    bot: MeetingBot, method: str, path: str, body: Any = None, *, auth: str = f"Bearer {KEY}"
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": auth} if auth else {}
    data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
    async with bot.session.request(method, f"{bot.url}{path}", data=data, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def _created(bot: MeetingBot, users: DelegatedState) -> dict[str, Any]:
    await bot.sign_in(users)
    status, meeting = await _call(bot, "POST", "/api/meetings", _body(bot))
    assert status == 201, meeting
    return meeting


async def test_create_answers_the_meeting_id_and_its_join_url(api_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting = await _created(api_bot, entra_users)
    (event,) = api_bot.calendar.events.values()
    assert meeting["joinUrl"].startswith("https://teams.microsoft.com/l/meetup-join/")
    assert event["isOnlineMeeting"] and event["subject"] == "Onboarding call"
    assert event["transactionId"] and meeting["eventId"] == event["id"]


async def test_a_retried_create_answers_the_same_meeting_and_creates_one_event(
    api_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    first = await _created(api_bot, entra_users)
    status, again = await _call(api_bot, "POST", "/api/meetings", _body(api_bot))
    assert status == 200 and again["id"] == first["id"]
    assert len(api_bot.calendar.events) == 1


async def test_the_organizer_may_be_given_by_upn(api_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await api_bot.sign_in(entra_users)
    status, meeting = await _call(api_bot, "POST", "/api/meetings", _body(api_bot, organizer=ANA.upn))
    assert status == 201 and meeting["organizerId"] == USER_OID


async def test_patch_moves_the_meeting(api_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting = await _created(api_bot, entra_users)
    start = at(api_bot.day(2), 9).isoformat() + "Z"
    end = at(api_bot.day(2), 10).isoformat() + "Z"
    status, moved = await _call(api_bot, "PATCH", f"/api/meetings/{meeting['id']}", {"start": start, "end": end})
    assert status == 200 and moved["start"].startswith(f"{api_bot.day(2)}T09:00")
    (event,) = api_bot.calendar.events.values()
    assert event["start"]["dateTime"].startswith(f"{api_bot.day(2)}T09:00")


async def test_delete_cancels_the_meeting_and_notifies_attendees(
    api_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting = await _created(api_bot, entra_users)
    status, cancelled = await _call(api_bot, "DELETE", f"/api/meetings/{meeting['id']}")
    assert status == 200 and cancelled["status"] == "cancelled"
    assert api_bot.calendar.events == {}  # cancelled with POST /events/{id}/cancel: attendees are notified


async def test_get_shows_a_change_made_in_outlook(api_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting = await _created(api_bot, entra_users)
    day = api_bot.day(3)
    api_bot.calendar.move_outside(meeting["eventId"], at(day, 11), at(day, 12))
    status, shown = await _call(api_bot, "GET", f"/api/meetings/{meeting['id']}")
    assert status == 200 and shown["start"].startswith(f"{day}T11:00")


async def test_a_lapsed_sign_in_answers_409_and_asks_the_organizer_in_teams(
    api_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await api_bot.install()
    entra_users.access_token_lifetime = 60  # expires at once for MSAL (5 minutes of margin): the next call refreshes
    await api_bot.sign_in(entra_users)
    entra_users.reject_refresh = True  # revoked: invalid_grant
    before = len(api_bot.connector.recorded)
    status, answer = await _call(api_bot, "POST", "/api/meetings", _body(api_bot))
    assert status == 409 and "sign in again" in answer["error"]["message"]
    arrived = await api_bot.connector.wait_for_async(lambda r: len(r) > before)
    assert "Sign in" in json.dumps(arrived[-1].activity)
    assert api_bot.calendar.events == {}


async def test_an_organizer_who_never_signed_in_gets_a_409(api_bot: MeetingBot) -> None:
    status, answer = await _call(api_bot, "POST", "/api/meetings", _body(api_bot))
    assert status == 409 and "has not signed in" in answer["error"]["message"]


async def test_without_credentials_the_answer_is_401(api_bot: MeetingBot) -> None:
    status, _ = await _call(api_bot, "POST", "/api/meetings", _body(api_bot), auth="Bearer wrong-key")
    assert status == 401


async def test_an_entra_token_without_the_meetings_role_gets_403(api_bot: MeetingBot, entra: EntraEmulator) -> None:
    entra.register_app(
        CALLER, tenant=TENANT, secret="caller-secret", roles={f"api://{APP_ID}": ("Notifications.Send",)}
    )
    token = await _entra_token(entra, api_bot)
    status, _ = await _call(api_bot, "POST", "/api/meetings", _body(api_bot), auth=f"Bearer {token}")
    assert status == 403


async def test_an_entra_token_with_the_meetings_role_is_accepted(
    api_bot: MeetingBot, entra: EntraEmulator, entra_users: DelegatedState
) -> None:
    entra.register_app(CALLER, tenant=TENANT, secret="caller-secret", roles={f"api://{APP_ID}": ("Meetings.Write",)})
    await api_bot.sign_in(entra_users)
    token = await _entra_token(entra, api_bot)
    status, _ = await _call(api_bot, "POST", "/api/meetings", _body(api_bot), auth=f"Bearer {token}")
    assert status == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"idempotencyKey": ""}, "idempotencyKey"),
        ({"subject": ""}, "subject"),
        ({"start": "tomorrow"}, "start"),
        ({"start": "2026-03-11T15:00:00"}, "start"),  # no offset
        ({"attendees": ["not an address"]}, "attendees"),
        ({"organizer": "nobody"}, "organizer"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(api_bot: MeetingBot, change: dict[str, Any], field: str) -> None:
    status, answer = await _call(api_bot, "POST", "/api/meetings", _body(api_bot, **change))
    assert status == 400 and answer["error"]["field"] == field


async def test_the_end_before_the_start_is_a_400(api_bot: MeetingBot) -> None:
    body = _body(api_bot, end=(datetime.fromisoformat(_body(api_bot)["start"]) - timedelta(hours=1)).isoformat())
    status, answer = await _call(api_bot, "POST", "/api/meetings", body)
    assert status == 400 and answer["error"]["field"] == "end"


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"subject": "a\\u0000b"}'])
async def test_a_body_that_is_not_a_safe_json_object_is_a_400(api_bot: MeetingBot, raw: str) -> None:
    status, answer = await _call(api_bot, "POST", "/api/meetings", raw)
    assert status == 400 and answer["error"]["field"] == "body"


async def test_an_unknown_meeting_is_a_404(api_bot: MeetingBot) -> None:
    status, _ = await _call(api_bot, "GET", "/api/meetings/nope")
    assert status == 404


async def _entra_token(entra: EntraEmulator, bot: MeetingBot) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{entra.url}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CALLER,
                "client_secret": "caller-secret",
                "scope": f"api://{APP_ID}/.default",
            },
            ssl=False,
        ) as response,
    ):
        return str((await response.json())["access_token"])
