"""Scheduling as a signed-in organizer through the live bot: free times, creation without duplicates, the form, the
message action, sign-in when needed and resuming after it, and Graph's refusals."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.platform.identity.delegated import UserRef
from bot.sandbox.emulators.entra_delegated import DelegatedState
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_calendar import CalendarState
from tests.features.meetings.rig import ANA, BEN_ID, BEN_MAIL, CONVERSATION, MeetingBot, at
from tests.support.cards import card_texts
from tests.support.live import TENANT
from tests.support.signin import USER_OID
from tests.support.turns import activity


def pick_data(card: dict[str, Any], n: int = 0) -> dict[str, Any]:
    picks = [
        a for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"] if a.get("verb") == "meeting.pick"
    ]
    return dict(picks[n]["data"])


def texts(card: dict[str, Any]) -> str:
    return " ".join(card_texts(card))


async def test_not_signed_in_gets_the_sign_in_card(meeting_bot: MeetingBot) -> None:
    assert "Sign in" in texts(await meeting_bot.ask(meeting_bot.say("schedule Design review tomorrow")))


async def test_free_times_avoid_everyones_busy_slots(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.sign_in(entra_users)
    day = meeting_bot.day(7)  # a Tuesday, on the fake clock
    meeting_bot.calendar.busy_for(BEN_MAIL, at(day, 13), at(day, 14))
    text = f"schedule Design review with Ben Ito on {day:%B %d} afternoon for 30m"
    data = pick_data(await meeting_bot.ask(meeting_bot.say(text, mention_ben=True)))
    assert data["attendees"] == [BEN_MAIL]
    assert datetime.fromisoformat(data["start"]).hour == 14  # 13:00-14:00 is Ben's busy hour


async def test_a_pick_creates_one_teams_meeting_even_when_clicked_twice(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.sign_in(entra_users)
    options = await meeting_bot.ask(meeting_bot.say(f"schedule Design review on {meeting_bot.day(7):%B %d}"))
    data = pick_data(options)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.pick", data))
    assert "Join the Teams meeting" in texts(card)
    again = await meeting_bot.card_answer(meeting_bot.click("meeting.pick", data))  # a double click, or a retry
    assert "Join the Teams meeting" in texts(again)
    (event,) = meeting_bot.calendar.events.values()  # transactionId: one event
    assert event["isOnlineMeeting"] and event["onlineMeetingProvider"] == "teamsForBusiness"


async def test_a_time_that_has_passed_is_not_created(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.sign_in(entra_users)
    data = pick_data(await meeting_bot.ask(meeting_bot.say(f"schedule Sync on {meeting_bot.day(1):%B %d}")))
    meeting_bot.clock.advance(days=2)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.pick", data))
    assert "That time has passed" in texts(card)
    assert meeting_bot.calendar.events == {}


async def test_an_exact_time_creates_the_meeting_at_once(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.sign_in(entra_users)
    card = await meeting_bot.ask(meeting_bot.say("schedule Budget sync with carla@contoso.com tomorrow at 3pm for 1h"))
    assert "Budget sync" in texts(card)
    (event,) = meeting_bot.calendar.events.values()
    assert event["attendees"][0]["emailAddress"]["address"] == "carla@contoso.com"
    assert event["start"]["dateTime"].startswith(f"{meeting_bot.day(1)}T15:00")


async def test_a_bad_duration_is_answered_clearly(meeting_bot: MeetingBot) -> None:
    card = await meeting_bot.ask(meeting_bot.say("schedule Offsite tomorrow for 12h"))
    assert "from 5 minutes to 8 hours" in texts(card)


async def test_schedule_alone_opens_the_form(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.sign_in(entra_users)
    form = await meeting_bot.ask(meeting_bot.say("schedule"))
    assert "meeting.form" in [a["verb"] for a in form["actions"]]
    assert str(meeting_bot.day(1)) in json.dumps(form)  # the day preset: tomorrow


async def test_the_form_with_a_time_creates_the_meeting(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.sign_in(entra_users)
    data = {
        "subject": "Q3 deck review",
        "attendees": "ben@contoso.com, carla@contoso.com",
        "date": str(meeting_bot.day(2)),
        "time": "09:30",
        "minutes": "45",
    }
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.form", data))
    assert "Join the Teams meeting" in texts(card) and "09:30-10:15" in texts(card)
    assert len(meeting_bot.calendar.events) == 1


async def test_the_form_without_a_time_offers_free_times(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.sign_in(entra_users)
    data = {"subject": "Q3 deck review", "attendees": BEN_MAIL, "date": str(meeting_bot.day(2)), "minutes": "30"}
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.form", data))
    assert datetime.fromisoformat(pick_data(card)["start"]).hour == 9  # from the start of the working day
    assert meeting_bot.calendar.events == {}


async def test_a_form_with_a_bad_address_comes_back_with_the_problem(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.sign_in(entra_users)
    data = {"subject": "X", "attendees": "ben at contoso", "date": str(meeting_bot.day(2))}
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.form", data))
    assert "not email addresses" in texts(card)
    assert meeting_bot.calendar.events == {}


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
    assert "Can we review the Q3 deck ?" in texts(card)
    assert BEN_MAIL in texts(card)
    # A dialog's form submits with Action.Submit (Teams dialogs don't support Action.Execute).
    assert [a["type"] for a in card["actions"]] == ["Action.Submit"]


async def test_the_message_action_keeps_its_dialog_open_on_a_problem(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.sign_in(entra_users)
    value = {"commandId": "scheduleMeeting", "data": {"subject": "", "date": str(meeting_bot.day(2))}}
    invoke = activity("invoke", name="composeExtension/submitAction", value=value, serviceUrl=meeting_bot.connector.url)
    body = await (await meeting_bot.post(invoke, meeting_bot.token())).json()
    assert "A subject is required." in texts(body["task"]["value"]["card"]["content"])


async def test_the_message_action_puts_the_meeting_in_the_compose_box(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.sign_in(entra_users)
    data = {"subject": "Q3 deck review", "date": str(meeting_bot.day(2)), "time": "11:00", "minutes": "30"}
    value = {"commandId": "scheduleMeeting", "data": data}
    invoke = activity("invoke", name="composeExtension/submitAction", value=value, serviceUrl=meeting_bot.connector.url)
    body = await (await meeting_bot.post(invoke, meeting_bot.token())).json()
    (attachment,) = body["composeExtension"]["attachments"]
    assert "Join the Teams meeting" in texts(attachment["content"])


async def test_after_signing_in_the_user_is_offered_to_finish_scheduling(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.install()
    assert "Sign in" in texts(await meeting_bot.ask(meeting_bot.say("schedule Retro tomorrow at 10:00")))
    entra_users.signed_in_user = ANA
    before = len(meeting_bot.connector.recorded)
    await meeting_bot.browse(await meeting_bot.delegated.begin(UserRef(TENANT, USER_OID), CONVERSATION))
    offered = await meeting_bot.connector.wait_for_async(lambda r: len(r) >= before + 2)
    assert "Finish scheduling" in json.dumps([r.activity for r in offered])
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.resume", {}))
    assert "Resumed" in texts(card)
    await meeting_bot.connector.wait_for_async(lambda r: "Retro" in json.dumps(r[-1].activity))
    assert len(meeting_bot.calendar.events) == 1


async def test_resuming_twice_finds_nothing_the_second_time(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.ask(meeting_bot.say("schedule Retro tomorrow at 10:00"))
    await meeting_bot.sign_in(entra_users)
    await meeting_bot.card_answer(meeting_bot.click("meeting.resume", {}))
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.resume", {}))
    assert "Nothing to resume" in texts(card)


async def test_graph_throttling_is_waited_out(
    meeting_bot: MeetingBot, entra_users: DelegatedState, calendar_graph: tuple[GraphEmulator, CalendarState]
) -> None:
    await meeting_bot.sign_in(entra_users)
    calendar_graph[0].inject(429, count=1, retry_after=1)
    card = await meeting_bot.ask(meeting_bot.say("schedule Budget sync tomorrow at 3pm"))
    assert "Join the Teams meeting" in texts(card)


async def test_a_missing_calendar_permission_answers_with_the_consent_card(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_bot.delegated.scopes = ["User.Read"]  # as if the tenant never consented to Calendars.ReadWrite
    await meeting_bot.sign_in(entra_users)
    card = await meeting_bot.ask(meeting_bot.say("schedule Design review tomorrow"))
    assert "permission" in texts(card).lower() and "Calendars.ReadWrite" in texts(card)


async def test_this_channels_members_are_invited_from_the_paged_roster_up_to_100(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await meeting_bot.sign_in(entra_users)
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
    said = json.dumps([r.activity for r in arrived[before:]])
    assert "Inviting the first 100 members" in said and "Town hall" in said
    (event,) = meeting_bot.calendar.events.values()
    assert len(event["attendees"]) == 100  # capped: a meeting invitation, not a broadcast
