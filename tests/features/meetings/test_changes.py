"""Changing a meeting from its card: only its organizer may, moving and cancelling reach Outlook, and an expired
sign-in asks to sign in again; ``meetings`` lists what is coming."""

from __future__ import annotations

from typing import Any

from bot.sandbox.emulators.entra_delegated import DelegatedState
from tests.features.meetings.rig import BEN_AAD, ORGANIZER, MeetingBot
from tests.support.cards import card_texts


def texts(card: dict[str, Any]) -> str:
    return " ".join(card_texts(card))


async def test_only_the_organizer_may_cancel(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting_id = await meeting_bot.meeting(entra_users)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": meeting_id}, sender=BEN_AAD))
    assert "Only the organizer (Ana Diaz) can change this meeting." in texts(card)
    assert len(meeting_bot.calendar.events) == 1


async def test_only_the_organizer_may_reschedule(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting_id = await meeting_bot.meeting(entra_users)
    card = await meeting_bot.card_answer(
        meeting_bot.click("meeting.reschedule", {"meeting": meeting_id}, sender=BEN_AAD)
    )
    assert "Only the organizer (Ana Diaz) can change this meeting." in texts(card)


async def test_an_unknown_meeting_is_said_so(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.sign_in(entra_users)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": "nope"}))
    assert "Unknown meeting" in texts(card)


async def test_cancel_cancels_the_event_and_the_card_says_so(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id = await meeting_bot.meeting(entra_users)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": meeting_id}))
    assert "Cancelled; attendees were notified." in texts(card) and "actions" not in card
    assert meeting_bot.calendar.events == {}


async def test_reschedule_opens_the_move_form_at_the_meetings_time(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id = await meeting_bot.meeting(entra_users)
    form = await meeting_bot.card_answer(meeting_bot.click("meeting.reschedule", {"meeting": meeting_id}))
    assert "Move Retro" in texts(form)
    assert [a["verb"] for a in form["actions"]] == ["meeting.move"]


async def test_move_moves_the_event_and_updates_the_card(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting_id = await meeting_bot.meeting(entra_users)
    day = str(meeting_bot.day(2))
    card = await meeting_bot.card_answer(
        meeting_bot.click("meeting.move", {"meeting": meeting_id, "date": day, "time": "16:00", "minutes": "45"})
    )
    assert "Moved; attendees were sent the update." in texts(card) and "16:00-16:45" in texts(card)
    (event,) = meeting_bot.calendar.events.values()
    assert event["start"]["dateTime"].startswith(f"{day}T16:00")


async def test_moving_into_the_past_is_refused(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    meeting_id = await meeting_bot.meeting(entra_users)
    data = {"meeting": meeting_id, "date": str(meeting_bot.day(-1)), "time": "16:00", "minutes": "30"}
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.move", data))
    assert "That time has passed" in texts(card)


async def test_meetings_lists_what_was_created(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await meeting_bot.meeting(entra_users)
    card = await meeting_bot.ask(meeting_bot.say("meetings"))
    assert "Your upcoming meetings" in texts(card) and "Retro" in texts(card)


async def test_meetings_without_any_says_so(meeting_bot: MeetingBot) -> None:
    assert "No upcoming meetings" in texts(await meeting_bot.ask(meeting_bot.say("meetings")))


async def test_an_expired_sign_in_asks_to_sign_in_again_instead_of_failing(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id = await meeting_bot.meeting(entra_users)
    await meeting_bot.delegated.sign_out(ORGANIZER)
    card = await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": meeting_id}))
    assert "Sign in again" in texts(card)
    assert len(meeting_bot.calendar.events) == 1
