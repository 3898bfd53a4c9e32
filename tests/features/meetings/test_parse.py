"""Reading "schedule ..." in several phrasings."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.features.meetings.parse import MeetingParseError, MeetingRequest, parse_meeting

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)  # a Tuesday


def parse(text: str) -> MeetingRequest:
    return parse_meeting(text, now=NOW, zone=PARIS, mention_names=["Ana Diaz", "Ben Ito"])


def test_mentions_a_part_of_the_day_and_a_duration() -> None:
    wanted = parse("Design review with @Ana Diaz @Ben Ito tomorrow afternoon for 30m")
    assert wanted.subject == "Design review" and wanted.attendee_names == ("Ana Diaz", "Ben Ito")
    assert wanted.minutes == 30 and wanted.start is None
    ((start, end),) = wanted.windows
    assert (start.time(), end.time()) == (time(13, 0), time(17, 0)) and start.date().day == 25


def test_an_exact_time_and_an_address() -> None:
    wanted = parse("Budget sync with ana@contoso.com on Friday at 3pm for 1h")
    assert wanted.emails == ("ana@contoso.com",) and wanted.minutes == 60
    assert wanted.start == datetime(2026, 11, 27, 15, 0, tzinfo=PARIS)


def test_no_with_still_finds_the_time() -> None:
    wanted = parse("Retro tomorrow at 10:00")
    assert wanted.subject == "Retro" and wanted.start == datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)


def test_the_channel_members() -> None:
    assert parse("Retro with this channel's members next Tuesday").channel_members


def test_no_time_means_the_next_three_working_days() -> None:
    wanted = parse("Planning")
    assert len(wanted.windows) == 3 and wanted.windows[0][0] == NOW


@pytest.mark.parametrize(
    ("text", "says"),
    [("Offsite tomorrow for 12h", "8 hours"), ("Sync yesterday at 9:00", "already passed"), ("", "what the meeting")],
)
def test_bad_input_is_answered(text: str, says: str) -> None:
    with pytest.raises(MeetingParseError) as caught:
        parse(text)
    assert says in caught.value.message
