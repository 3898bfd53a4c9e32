"""Occurrences keep their wall-clock time across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.features.reminders.recurrence import next_occurrence
from bot.platform.time import localize

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def test_a_daily_reminder_stays_at_nine_across_the_autumn_change() -> None:
    first = datetime(2026, 10, 23, 9, 0, tzinfo=PARIS)
    when = first
    seen = []
    for _ in range(5):
        when = next_occurrence("FREQ=DAILY", first=first, after=when, zone=PARIS) or when
        seen.append(when)
    assert [w.hour for w in seen] == [9, 9, 9, 9, 9]
    assert seen[0].utcoffset() != seen[1].utcoffset()  # Oct 24 is in summer time; clocks go back on the 25th
    utc = ZoneInfo("UTC")
    assert seen[1].astimezone(utc) - seen[0].astimezone(utc) == timedelta(hours=25)


def test_a_weekly_reminder_stays_at_its_hour_across_the_spring_change_in_new_york() -> None:
    first = datetime(2027, 3, 8, 10, 0, tzinfo=NEW_YORK)  # a Monday
    after_change = next_occurrence("FREQ=WEEKLY;BYDAY=MO", first=first, after=first, zone=NEW_YORK)
    assert after_change == datetime(2027, 3, 15, 10, 0, tzinfo=NEW_YORK)
    assert after_change is not None and after_change.utcoffset() == timedelta(hours=-4)


def test_a_time_skipped_by_the_spring_change_fires_just_after_the_gap() -> None:
    assert localize(datetime(2027, 3, 28, 2, 30), PARIS) == datetime(2027, 3, 28, 3, 30, tzinfo=PARIS)


def test_a_time_repeated_by_the_autumn_change_fires_once_at_its_first_occurrence() -> None:
    first = datetime(2026, 10, 24, 2, 30, tzinfo=PARIS)
    one = next_occurrence("FREQ=DAILY", first=first, after=first, zone=PARIS)
    two = next_occurrence("FREQ=DAILY", first=first, after=one or first, zone=PARIS)
    assert one is not None and two is not None
    assert one.astimezone(ZoneInfo("UTC")).hour == 0  # 02:30 CEST, the first of the two
    assert two.date() == datetime(2026, 10, 26).date()


def test_monthly_on_the_31st_skips_shorter_months() -> None:
    first = datetime(2026, 10, 31, 9, 0, tzinfo=PARIS)
    nxt = next_occurrence("FREQ=MONTHLY;BYMONTHDAY=31", first=first, after=first, zone=PARIS)
    assert nxt == datetime(2026, 12, 31, 9, 0, tzinfo=PARIS)
