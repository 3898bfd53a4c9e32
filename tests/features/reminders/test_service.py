"""The rules of reminders that need no conversation: quiet hours, snoozing, the form's repetitions, who may edit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.features.reminders.parse import ReminderParseError
from bot.features.reminders.service import (
    NOT_EDITABLE,
    QuietHours,
    describe,
    edit_refusal,
    form_choice,
    form_recurrence,
    in_quiet_hours,
    parse_quiet,
    snooze_until,
    tomorrow_morning,
)
from bot.features.reminders.store import ACTIVE, CANCELLED, Reminder
from tests.support.clock import DEFAULT_NOW

PARIS_TUESDAY = datetime(2026, 3, 10, 11, 0)  # DEFAULT_NOW on a Paris wall clock


def reminder(**changes: object) -> Reminder:
    base = Reminder(
        id="r1",
        tenant_id="t",
        creator_id="ana",
        creator_name="Ana",
        target_kind="user",
        target_user_id="ana",
        target_name=None,
        conversation_id=None,
        origin_conversation_id=None,
        text="call Ben",
        source_link=None,
        zone="Europe/Paris",
        rule=None,
        anchor=None,
        due_at=DEFAULT_NOW,
        occurrence_at=DEFAULT_NOW,
        status=ACTIVE,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_quiet_hours_that_span_midnight_end_the_next_morning() -> None:
    assert in_quiet_hours(datetime(2026, 3, 10, 22, 0), "20:00", "08:00") == datetime(2026, 3, 11, 8, 0)
    assert in_quiet_hours(datetime(2026, 3, 11, 6, 0), "20:00", "08:00") == datetime(2026, 3, 11, 8, 0)


def test_quiet_hours_that_do_not_span_midnight() -> None:
    assert in_quiet_hours(datetime(2026, 11, 24, 13, 0), "12:00", "14:00") == datetime(2026, 11, 24, 14, 0)
    assert in_quiet_hours(datetime(2026, 11, 24, 15, 0), "12:00", "14:00") is None


def test_no_quiet_hours_hold_nothing() -> None:
    assert in_quiet_hours(PARIS_TUESDAY, None, None) is None
    assert in_quiet_hours(PARIS_TUESDAY, "09:00", "09:00") is None


@pytest.mark.parametrize(
    ("words", "quiet"),
    [
        ("20:00-08:00", QuietHours("20:00", "08:00")),
        ("8:30 - 9:15", QuietHours("08:30", "09:15")),
        ("off", QuietHours(None, None)),
        ("None", QuietHours(None, None)),
        ("24:00-08:00", None),
        ("20:60-08:00", None),
        ("evenings", None),
        ("", None),
    ],
)
def test_quiet_hours_are_read_as_a_window_or_off(words: str, quiet: QuietHours | None) -> None:
    assert parse_quiet(words) == quiet


@pytest.mark.parametrize(("minutes", "later"), [(60, 60), (1, 1), (24 * 60, 24 * 60), (0, 15), (5000, 15), ("x", 15)])
def test_a_snooze_lasts_the_minutes_asked_within_a_day_else_fifteen(minutes: object, later: int) -> None:
    assert snooze_until(DEFAULT_NOW, minutes) == DEFAULT_NOW + timedelta(minutes=later)


def test_tomorrow_is_nine_the_next_morning_in_the_reminders_zone() -> None:
    assert tomorrow_morning(DEFAULT_NOW, "Europe/Paris") == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
    assert tomorrow_morning(DEFAULT_NOW, "America/New_York") == datetime(2026, 3, 11, 13, 0, tzinfo=UTC)


def test_tomorrow_keeps_nine_across_a_clock_change() -> None:
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Paris moves to summer time that night
    assert tomorrow_morning(saturday, "Europe/Paris") == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_a_weekly_form_repetition_takes_the_weekday_of_its_date() -> None:
    thursday = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    assert form_recurrence("FREQ=WEEKLY", thursday) == "FREQ=WEEKLY;BYDAY=TH"
    assert form_recurrence("FREQ=WEEKLY;INTERVAL=2", thursday) == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"
    assert form_recurrence("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", thursday) == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def test_a_monthly_form_repetition_takes_the_day_of_its_date() -> None:
    assert form_recurrence("FREQ=MONTHLY", datetime(2026, 3, 12, tzinfo=UTC)) == "FREQ=MONTHLY;BYMONTHDAY=12"


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=DAILY;COUNT=3", "FREQ=YEARLY", "anything"])
def test_a_repetition_the_form_does_not_offer_is_refused(rule: str) -> None:
    with pytest.raises(ReminderParseError, match=r"Pick a repetition from the list\."):
        form_recurrence(rule, DEFAULT_NOW)


@pytest.mark.parametrize(
    ("rule", "choice"),
    [
        (None, "none"),
        ("FREQ=DAILY", "FREQ=DAILY"),
        ("FREQ=WEEKLY;BYDAY=TH", "FREQ=WEEKLY"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "FREQ=WEEKLY;INTERVAL=2"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("FREQ=MONTHLY;BYMONTHDAY=12", "FREQ=MONTHLY"),
    ],
)
def test_a_stored_repetition_shows_as_the_forms_choice(rule: str | None, choice: str) -> None:
    assert form_choice(rule) == choice


def test_only_the_setter_edits_a_reminder_still_to_come() -> None:
    assert edit_refusal(reminder(), "ana") is None
    assert edit_refusal(reminder(), "ben") == NOT_EDITABLE
    assert edit_refusal(reminder(status=CANCELLED), "ana") == NOT_EDITABLE


def test_a_reminder_set_for_someone_else_is_set_again_rather_than_edited() -> None:
    refusal = edit_refusal(reminder(target_user_id="ben"), "ana")
    assert refusal == ("Can't edit that here", "Delete it and set a new one for them.")


def test_times_read_as_today_or_as_a_date() -> None:
    assert describe(DEFAULT_NOW + timedelta(hours=2), "Europe/Paris", now=DEFAULT_NOW) == "today 13:00"
    assert describe(DEFAULT_NOW + timedelta(days=1), "Europe/Paris", now=DEFAULT_NOW) == "Wed Mar 11, 11:00"
