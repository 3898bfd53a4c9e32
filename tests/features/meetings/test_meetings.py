"""Scheduling through the live bot as a signed-in organizer: free times, creation without duplicates, organizer-only
changes, cancel, and sign-in when needed. Entra (delegated), Graph (calendar) and the Bot Connector are emulators."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from app import FEATURES
from bot.features.meetings.store import MeetingStore
from bot.platform.identity.credentials import credential_from_settings
from bot.platform.identity.delegated import UserRef
from bot.platform.server import SERVICES_KEY, create_app
from tests.e2e.playground import free_port
from tests.emulators.botframework_login import BotFrameworkChannelEmulator
from tests.emulators.connector import ConnectorEmulator
from tests.emulators.entra import EntraEmulator
from tests.emulators.entra_delegated import DelegatedState, EntraUser
from tests.emulators.graph import GraphEmulator
from tests.emulators.graph_calendar import CalendarState, install_calendar
from tests.emulators.tls import TestCA
from tests.support.live import APP_ID, SECRET, TENANT, bot_settings
from tests.support.signin import USER_OID, SignInBot
from tests.support.turns import activity

ANA = EntraUser(oid=USER_OID, name="Ana Diaz", upn="ana@contoso.com")
BEN_ID, BEN_AAD, BEN_MAIL = "29:ben", "bbbbbbbb-1111-2222-3333-444444444444", "ben@contoso.com"
CONVERSATION = "a:1personal-chat"


@dataclasses.dataclass
class MeetingBot(SignInBot):
    calendar: CalendarState | None = None

    def say(self, text: str, *, sender: str = USER_OID, mention_ben: bool = False) -> dict[str, Any]:
        message = activity("message", text=text, serviceUrl=self.connector.url, localTimezone="UTC")
        message["from"]["aadObjectId"] = sender
        if mention_ben:
            message["entities"] = [
                {"type": "mention", "text": "<at>Ben Ito</at>", "mentioned": {"id": BEN_ID, "name": "Ben Ito"}}
            ]
        return message

    def click(self, verb: str, data: dict[str, Any], *, sender: str = USER_OID) -> dict[str, Any]:
        action = {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}}
        invoke = activity(
            "invoke",
            name="adaptiveCard/action",
            value={"action": action},
            serviceUrl=self.connector.url,
            localTimezone="UTC",
        )
        invoke["from"]["aadObjectId"] = sender
        return invoke

    async def card_answer(self, invoke: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(invoke, self.token())
        assert response.status == 200, await response.text()
        return dict((await response.json())["value"])


@pytest.fixture
def calendar_graph(entra: EntraEmulator, test_ca: TestCA) -> Iterator[tuple[GraphEmulator, CalendarState]]:
    emulator = GraphEmulator(entra, test_ca.server_ssl_context())
    calendar = install_calendar(emulator)
    emulator.start()
    yield emulator, calendar
    emulator.stop()


@pytest.fixture
async def meeting_bot(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
    calendar_graph: tuple[GraphEmulator, CalendarState],
) -> AsyncIterator[MeetingBot]:
    graph, calendar = calendar_graph
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    port = free_port()
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        public_url=f"http://127.0.0.1:{port}",
        encryption_key="test-encryption-key-" + "x" * 24,
        graph_base_url=graph.url,
    )
    connector.add_members(CONVERSATION, [{"id": BEN_ID, "name": "Ben Ito", "aadObjectId": BEN_AAD, "email": BEN_MAIL}])
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    browser = aiohttp.TCPConnector(ssl=test_ca.client_ssl_context())
    async with aiohttp.ClientSession(connector=browser) as session:
        yield MeetingBot(
            f"http://127.0.0.1:{port}",
            session,
            settings,
            bf_channel,
            connector,
            services=app[SERVICES_KEY],
            calendar=calendar,
        )
    await server.close()


async def sign_in(bot: MeetingBot, users: DelegatedState) -> None:
    users.signed_in_user = ANA
    assert bot.services is not None and bot.services.identity is not None and bot.services.identity.delegated
    link = await bot.services.identity.delegated.begin(UserRef(TENANT, USER_OID), None)
    start = await bot.get(link)
    authorize = await bot.get(start.headers["Location"])
    callback = await bot.get(authorize.headers["Location"])
    assert callback.status == 200


async def ask(bot: MeetingBot, message: dict[str, Any]) -> dict[str, Any]:
    """Post a message and return the card Courier answers with."""
    before = len(bot.connector.recorded)
    await bot.post(message, bot.token())
    arrived = await bot.connector.wait_for_async(lambda r: len(r) > before)
    return dict(arrived[-1].activity["attachments"][0]["content"])


def pick_data(card: dict[str, Any], n: int = 0) -> dict[str, Any]:
    picks = [
        a for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"] if a.get("verb") == "meeting.pick"
    ]
    return dict(picks[n]["data"])


TOMORROW = (datetime.now(UTC) + timedelta(days=1)).strftime("%A")


async def test_not_signed_in_gets_the_sign_in_card(meeting_bot: MeetingBot) -> None:
    assert "Sign in" in json.dumps(await ask(meeting_bot, meeting_bot.say("schedule Design review tomorrow")))


async def test_free_times_avoid_everyones_busy_slots_and_a_pick_creates_one_teams_meeting(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await sign_in(meeting_bot, entra_users)
    assert meeting_bot.calendar is not None
    day = (datetime.now(UTC) + timedelta(days=7)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    busy_from = datetime.combine(day, datetime.min.time()).replace(hour=13)
    meeting_bot.calendar.busy_for(BEN_MAIL, busy_from, busy_from + timedelta(hours=1))
    text = f"schedule Design review with Ben Ito on {day:%B %d} afternoon for 30m"
    options = await ask(meeting_bot, meeting_bot.say(text, mention_ben=True))
    data = pick_data(options)
    assert data["attendees"] == [BEN_MAIL]
    assert datetime.fromisoformat(data["start"]).hour == 14  # 13:00-14:00 is Ben's busy hour

    card = await meeting_bot.card_answer(meeting_bot.click("meeting.pick", data))
    assert "Join the Teams meeting" in json.dumps(card)
    again = await meeting_bot.card_answer(meeting_bot.click("meeting.pick", data))  # a double click, or a retry
    assert "Join the Teams meeting" in json.dumps(again)
    assert len(meeting_bot.calendar.events) == 1  # transactionId: one event
    (event,) = meeting_bot.calendar.events.values()
    assert event["isOnlineMeeting"] and event["onlineMeetingProvider"] == "teamsForBusiness"


async def test_an_exact_time_creates_the_meeting_at_once(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await sign_in(meeting_bot, entra_users)
    card = await ask(meeting_bot, meeting_bot.say("schedule Budget sync with carla@contoso.com tomorrow at 3pm for 1h"))
    assert "Budget sync" in json.dumps(card)
    assert meeting_bot.calendar is not None
    (event,) = meeting_bot.calendar.events.values()
    assert event["attendees"][0]["emailAddress"]["address"] == "carla@contoso.com"


async def _meeting(bot: MeetingBot, users: DelegatedState) -> str:
    await sign_in(bot, users)
    card = await ask(bot, bot.say("schedule Retro tomorrow at 10:00"))
    return str(next(a for a in card["actions"] if a["verb"] == "meeting.cancel")["data"]["meeting"])


async def test_only_the_organizer_may_cancel(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting_id = await _meeting(meeting_bot, entra_users)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": meeting_id}, sender=BEN_AAD))
    assert "Only the organizer" in json.dumps(card)
    assert meeting_bot.calendar is not None and len(meeting_bot.calendar.events) == 1


async def test_cancel_cancels_the_event_and_the_card_says_so(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id = await _meeting(meeting_bot, entra_users)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": meeting_id}))
    assert "Cancelled" in json.dumps(card) and "actions" not in card
    assert meeting_bot.calendar is not None and meeting_bot.calendar.events == {}


async def test_reschedule_moves_the_event_and_updates_the_card(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id = await _meeting(meeting_bot, entra_users)
    form = await meeting_bot.card_answer(meeting_bot.click("meeting.reschedule", {"meeting": meeting_id}))
    assert "Move Retro" in json.dumps(form)
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    card = await meeting_bot.card_answer(
        meeting_bot.click("meeting.move", {"meeting": meeting_id, "date": day, "time": "16:00", "minutes": "45"})
    )
    assert "Moved" in json.dumps(card) and "16:00-16:45" in json.dumps(card)
    assert meeting_bot.calendar is not None
    (event,) = meeting_bot.calendar.events.values()
    assert event["start"]["dateTime"].startswith(f"{day}T16:00")


async def test_meetings_lists_what_was_created(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await _meeting(meeting_bot, entra_users)
    assert "Retro" in json.dumps(await ask(meeting_bot, meeting_bot.say("meetings")))


async def test_a_bad_duration_is_answered_clearly(meeting_bot: MeetingBot) -> None:
    assert "from 5 minutes to 8 hours" in json.dumps(
        await ask(meeting_bot, meeting_bot.say("schedule Offsite tomorrow for 12h"))
    )


async def _installed_meeting(bot: MeetingBot, users: DelegatedState) -> str:
    await bot.post(activity("installationUpdate", action="add", serviceUrl=bot.connector.url), bot.token())
    await bot.connector.wait_for_async(lambda r: len(r) >= 1)  # the welcome card
    return await _meeting(bot, users)


def _updates(bot: MeetingBot) -> list[str]:
    return [json.dumps(r.activity) for r in bot.connector.recorded if r.kind == "update"]


async def test_creating_a_meeting_subscribes_to_calendar_changes_with_the_handshake(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    assert meeting_bot.calendar is not None
    (subscription,) = meeting_bot.calendar.subscriptions.values()
    assert subscription.notification_url.endswith("/api/graph/notifications")
    assert subscription.client_state and subscription.change_type == "updated,deleted"


async def test_a_meeting_moved_in_outlook_redraws_its_card(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    assert meeting_bot.calendar is not None
    (event_id,) = meeting_bot.calendar.events
    new_start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=11, minute=0, second=0, microsecond=0, tzinfo=None)
    meeting_bot.calendar.move_outside(event_id, new_start, new_start + timedelta(minutes=30))
    await meeting_bot.connector.wait_for_async(lambda r: any(x.kind == "update" for x in r))
    assert "Moved in Outlook or Teams" in _updates(meeting_bot)[-1] and "11:00-11:30" in _updates(meeting_bot)[-1]


async def test_a_meeting_cancelled_in_outlook_shows_as_cancelled(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    assert meeting_bot.calendar is not None
    (event_id,) = meeting_bot.calendar.events
    meeting_bot.calendar.cancel_outside(event_id)
    await meeting_bot.connector.wait_for_async(lambda r: any(x.kind == "update" for x in r))
    assert "Cancelled in Outlook or Teams" in _updates(meeting_bot)[-1]


async def test_a_notification_with_a_wrong_client_state_changes_nothing(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    assert meeting_bot.calendar is not None
    (subscription,) = meeting_bot.calendar.subscriptions.values()
    (event_id,) = meeting_bot.calendar.events
    forged = {
        "value": [
            {
                "subscriptionId": subscription.id,
                "clientState": "guess",
                "changeType": "deleted",
                "resourceData": {"id": event_id},
            }
        ]
    }
    async with meeting_bot.session.post(f"{meeting_bot.url}/api/graph/notifications", json=forged) as response:
        assert response.status == 202
    assert meeting_bot.services is not None
    await meeting_bot.services.signals.meeting_created.__self__.settle()  # type: ignore[attr-defined]
    assert _updates(meeting_bot) == []
    (meeting,) = await MeetingStore(meeting_bot.services.store.db).upcoming(TENANT, USER_OID, datetime.now(UTC))
    assert meeting.status == "scheduled"


async def test_the_periodic_reconcile_catches_changes_whose_notification_never_came(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    assert meeting_bot.calendar is not None and meeting_bot.services is not None
    (event_id,) = meeting_bot.calendar.events
    meeting_bot.calendar.events.pop(event_id)  # deleted, and the notification was lost
    sync = meeting_bot.services.signals.meeting_created.__self__  # type: ignore[attr-defined]
    assert await sync.reconcile() == 1
    assert "Cancelled in Outlook or Teams" in _updates(meeting_bot)[-1]


async def test_a_revoked_sign_in_leaves_cards_as_they_are(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    assert meeting_bot.services is not None and meeting_bot.services.identity is not None
    assert meeting_bot.services.identity.delegated is not None
    await meeting_bot.services.identity.delegated.sign_out(UserRef(TENANT, USER_OID))
    sync = meeting_bot.services.signals.meeting_created.__self__  # type: ignore[attr-defined]
    assert await sync.reconcile() == 0


async def test_schedule_alone_opens_the_form_and_the_form_creates_the_meeting(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await sign_in(meeting_bot, entra_users)
    form = await ask(meeting_bot, meeting_bot.say("schedule"))
    assert "meeting.form" in json.dumps(form)
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    data = {
        "subject": "Q3 deck review",
        "attendees": "ben@contoso.com, carla@contoso.com",
        "date": day,
        "time": "09:30",
        "minutes": "45",
    }
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.form", data))
    assert "Join the Teams meeting" in json.dumps(card) and "09:30-10:15" in json.dumps(card)
    assert meeting_bot.calendar is not None and len(meeting_bot.calendar.events) == 1


async def test_a_form_with_a_bad_address_comes_back_with_the_problem(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await sign_in(meeting_bot, entra_users)
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    card = await meeting_bot.card_answer(
        meeting_bot.click("meeting.form", {"subject": "X", "attendees": "ben at contoso", "date": day})
    )
    assert "not email addresses" in json.dumps(card)
    assert meeting_bot.calendar is not None and meeting_bot.calendar.events == {}


async def test_schedule_a_meeting_on_a_message_prefills_subject_and_attendees(meeting_bot: MeetingBot) -> None:
    value = {
        "commandId": "scheduleMeeting",
        "commandContext": "message",
        "messagePayload": {
            "body": {"contentType": "html", "content": "<p>Can we review the <b>Q3 deck</b>?</p>"},
            "mentions": [
                {"id": 0, "mentionText": "Ben Ito", "mentioned": {"user": {"id": BEN_ID, "displayName": "Ben Ito"}}}
            ],
        },
    }
    invoke = activity("invoke", name="composeExtension/fetchTask", value=value, serviceUrl=meeting_bot.connector.url)
    response = await meeting_bot.post(invoke, meeting_bot.token())
    card = (await response.json())["task"]["value"]["card"]["content"]
    assert '"value": "Can we review the Q3 deck ?"' in json.dumps(card) or "Can we review the Q3 deck" in json.dumps(
        card
    )
    assert BEN_MAIL in json.dumps(card)


async def test_after_signing_in_the_user_is_offered_to_finish_scheduling(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.post(
        activity("installationUpdate", action="add", serviceUrl=meeting_bot.connector.url), meeting_bot.token()
    )
    await meeting_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert "Sign in" in json.dumps(await ask(meeting_bot, meeting_bot.say("schedule Retro tomorrow at 10:00")))
    assert meeting_bot.services is not None and meeting_bot.services.identity is not None
    delegated = meeting_bot.services.identity.delegated
    assert delegated is not None
    entra_users.signed_in_user = ANA
    link = await delegated.begin(UserRef(TENANT, USER_OID), CONVERSATION)
    start = await meeting_bot.get(link)
    authorize = await meeting_bot.get(start.headers["Location"])
    before = len(meeting_bot.connector.recorded)
    await meeting_bot.get(authorize.headers["Location"])
    offered = await meeting_bot.connector.wait_for_async(lambda r: len(r) >= before + 2)
    assert "Finish scheduling" in json.dumps([r.activity for r in offered])
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.resume", {}))
    assert "Resumed" in json.dumps(card)
    await meeting_bot.connector.wait_for_async(lambda r: "Retro" in json.dumps(r[-1].activity))
    assert meeting_bot.calendar is not None and len(meeting_bot.calendar.events) == 1


async def test_graph_throttling_is_waited_out(
    meeting_bot: MeetingBot, entra_users: DelegatedState, calendar_graph: tuple[GraphEmulator, CalendarState]
) -> None:
    await sign_in(meeting_bot, entra_users)
    calendar_graph[0].inject(429, count=1, retry_after=1)
    card = await ask(meeting_bot, meeting_bot.say("schedule Budget sync tomorrow at 3pm"))
    assert "Join the Teams meeting" in json.dumps(card)


async def test_an_expired_sign_in_asks_to_sign_in_again_instead_of_failing(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id = await _meeting(meeting_bot, entra_users)
    assert meeting_bot.services is not None and meeting_bot.services.identity is not None
    assert meeting_bot.services.identity.delegated is not None
    await meeting_bot.services.identity.delegated.sign_out(UserRef(TENANT, USER_OID))
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": meeting_id}))
    assert "Sign in again" in json.dumps(card)
    assert meeting_bot.calendar is not None and len(meeting_bot.calendar.events) == 1


async def test_a_missing_calendar_permission_answers_with_the_consent_card(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    assert meeting_bot.services is not None and meeting_bot.services.identity is not None
    delegated = meeting_bot.services.identity.delegated
    assert delegated is not None
    delegated.scopes = ["User.Read"]  # as if the tenant never consented to Calendars.ReadWrite
    await sign_in(meeting_bot, entra_users)
    card = await ask(meeting_bot, meeting_bot.say("schedule Design review tomorrow"))
    assert "permission" in json.dumps(card).lower() and "Calendars.ReadWrite" in json.dumps(card)


async def test_this_channels_members_are_invited_from_the_paged_roster(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await sign_in(meeting_bot, entra_users)
    channel = "19:general@thread.tacv2"
    meeting_bot.connector.add_members(
        channel,
        [
            {"id": f"29:m{n}", "aadObjectId": f"{n:08d}-0000-4000-8000-000000000000", "email": f"m{n}@contoso.com"}
            for n in range(250)
        ],
    )
    message = activity(
        "message",
        text="schedule Town hall with this channel's members tomorrow at 16:00",
        conversation_type="channel",
        mention_bot=True,
        serviceUrl=meeting_bot.connector.url,
        localTimezone="UTC",
    )
    message["from"]["aadObjectId"] = USER_OID
    before = len(meeting_bot.connector.recorded)
    await meeting_bot.post(message, meeting_bot.token())
    arrived = await meeting_bot.connector.wait_for_async(lambda r: len(r) >= before + 2)
    texts = json.dumps([r.activity for r in arrived[before:]])
    assert "Inviting the first 100 members" in texts and "Town hall" in texts
    assert meeting_bot.calendar is not None
    (event,) = meeting_bot.calendar.events.values()
    assert len(event["attendees"]) == 100  # capped: a meeting invitation, not a broadcast
