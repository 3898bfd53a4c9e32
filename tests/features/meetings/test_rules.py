"""The scheduling rules apart from Teams: who is invited, where free times are looked for, what the forms send."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from bot.features.meetings.forms import FormProblem, MeetingForm, Prefill, parse_choice, parse_form, prefill
from bot.features.meetings.parse import MeetingRequest
from bot.features.meetings.service import MAX_ATTENDEES, MemberLookup, day_window, invitees
from tests.support.clock import FakeClock

ORGANIZER = "aaaaaaaa-0000-0000-0000-000000000000"


def roster(members: list[dict[str, Any]]) -> MemberLookup:
    async def lookup(member_id: str | None) -> list[dict[str, Any]]:
        return [m for m in members if member_id is None or m["id"] == member_id]

    return lookup


async def test_mentioned_people_are_invited_by_their_roster_address() -> None:
    request = MeetingRequest("Sync", attendee_names=("Ben Ito",), emails=("carla@contoso.com",))
    lookup = roster([{"id": "29:ben", "email": "Ben@Contoso.com"}])
    found = await invitees(request, {"ben ito": "29:ben"}, lookup, ORGANIZER)
    assert found.emails == ("carla@contoso.com", "ben@contoso.com") and not found.capped


async def test_a_mention_the_roster_does_not_know_is_skipped() -> None:
    request = MeetingRequest("Sync", attendee_names=("Ben Ito",))
    assert (await invitees(request, {"ben ito": "29:ben"}, roster([]), ORGANIZER)).emails == ()


async def test_this_channel_invites_its_members_but_the_organizer_once_each_up_to_100() -> None:
    members = [{"id": f"29:m{n}", "aadObjectId": f"m{n}", "email": f"m{n % 150}@contoso.com"} for n in range(300)]
    members.append({"id": "29:me", "aadObjectId": ORGANIZER, "email": "me@contoso.com"})
    found = await invitees(MeetingRequest("Town hall", channel_members=True), {}, roster(members), ORGANIZER)
    assert len(found.emails) == MAX_ATTENDEES and len(set(found.emails)) == MAX_ATTENDEES and found.capped
    assert "me@contoso.com" not in found.emails


def test_a_forms_day_is_searched_in_working_hours_from_now_on(clock: FakeClock) -> None:
    now = clock()  # 10:00 UTC
    assert day_window(now.date(), "UTC", now) == (now, datetime.combine(now.date(), time(17, 0), tzinfo=UTC))


def test_a_day_whose_working_hours_are_over_has_no_window(clock: FakeClock) -> None:
    now = clock()
    assert day_window(now.date() - timedelta(days=1), "UTC", now) is None


def test_the_form_reads_subject_addresses_day_time_and_length() -> None:
    form = parse_form({"subject": " Q3 ", "attendees": "A@x.com; b@y.org", "date": "2026-03-12", "time": "09:30"})
    assert isinstance(form, MeetingForm)
    assert (form.subject, form.emails, form.minutes) == ("Q3", ("a@x.com", "b@y.org"), 30)
    assert form.start("UTC") == datetime(2026, 3, 12, 9, 30, tzinfo=UTC)


def test_the_form_without_a_subject_comes_back() -> None:
    form = parse_form({"subject": "", "date": "2026-03-12", "verb": "meeting.form"})
    assert form == FormProblem({"subject": "", "date": "2026-03-12"}, "A subject is required.")


def test_a_broken_pick_is_not_a_choice() -> None:
    assert parse_choice({"subject": "Sync", "start": "not a time", "minutes": 30, "proposal": "p"}) is None


def test_the_message_action_starts_from_the_messages_text_and_mentions() -> None:
    value = {
        "messagePayload": {
            "body": {"content": "<p>Review the <b>deck</b> &amp; plan</p>"},
            "mentions": [{"mentioned": {"user": {"id": "29:ben"}}}, {"mentioned": {"user": {}}}],
        }
    }
    assert prefill(value) == Prefill("Review the deck & plan", ("29:ben",))
