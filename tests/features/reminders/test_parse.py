"""Reminders in words: several phrasings, both day/month orders, repetitions, and bad input answered clearly."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.features.reminders.parse import ParsedReminder, ReminderParseError, parse_reminder

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)  # a Tuesday


def parse(text: str, *, month_first: bool = False, zone: ZoneInfo = PARIS) -> ParsedReminder:
    return parse_reminder(text, now=NOW, zone=zone, mention_names=["Ana Diaz"], month_first=month_first)


@pytest.mark.parametrize(
    ("text", "due", "what"),
    [
        ("me in 20 minutes to call Ana", datetime(2026, 11, 24, 10, 20), "call Ana"),
        ("me to call Ana in 20 minutes", datetime(2026, 11, 24, 10, 20), "call Ana"),
        ("me tomorrow at 9am to send the report", datetime(2026, 11, 25, 9, 0), "send the report"),
        ("me tomorrow at 9:00 to send the report", datetime(2026, 11, 25, 9, 0), "send the report"),
        ("me on Dec 3 at 14:30 to pay the invoice", datetime(2026, 12, 3, 14, 30), "pay the invoice"),
        ("me on 3 December at 2:30pm to pay", datetime(2026, 12, 3, 14, 30), "pay"),
        ("me at 8:00 to stretch", datetime(2026, 11, 25, 8, 0), "stretch"),
        ("me on Friday to review the deck", datetime(2026, 11, 27, 9, 0), "review the deck"),
    ],
)
def test_one_off_reminders_in_several_phrasings(text: str, due: datetime, what: str) -> None:
    parsed = parse(text)
    assert parsed.when.due == due.replace(tzinfo=PARIS)
    assert parsed.text == what
    assert parsed.target.kind == "me" and parsed.when.rule is None and parsed.when.check is None


def test_a_mentioned_person_is_the_target() -> None:
    parsed = parse("Ana Diaz on Friday to send the contract")
    assert parsed.target.kind == "user" and parsed.target.name == "Ana Diaz"
    assert parsed.text == "send the contract"


@pytest.mark.parametrize("who", ["here", "#channel"])
def test_here_and_channel_target_the_conversation(who: str) -> None:
    assert parse(f"{who} every Monday at 10:00 to plan the week").target.kind == "here"


@pytest.mark.parametrize(
    ("words", "rule", "first"),
    [
        ("every weekday at 9:00", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", datetime(2026, 11, 25, 9, 0)),
        ("every Monday at 10:00", "FREQ=WEEKLY;BYDAY=MO", datetime(2026, 11, 30, 10, 0)),
        ("every first Monday of the month", "FREQ=MONTHLY;BYDAY=+1MO", datetime(2026, 12, 7, 9, 0)),
        ("every last Friday of the month at 16:00", "FREQ=MONTHLY;BYDAY=-1FR", datetime(2026, 11, 27, 16, 0)),
        ("every 2 weeks", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", datetime(2026, 12, 8, 9, 0)),
        ("every month on the 15th at 11am", "FREQ=MONTHLY;BYMONTHDAY=15", datetime(2026, 12, 15, 11, 0)),
        ("every day at noon", "FREQ=DAILY", datetime(2026, 11, 24, 12, 0)),
    ],
)
def test_repetitions_become_rfc5545_rules(words: str, rule: str, first: datetime) -> None:
    parsed = parse(f"me {words} to do it")
    assert parsed.when.rule == rule
    assert parsed.when.due == first.replace(tzinfo=PARIS)


def test_a_bare_numeric_date_follows_the_locale_and_asks_to_confirm() -> None:
    european = parse("me on 3/12 at 14:30 to x", month_first=False)
    american = parse("me on 3/12 at 14:30 to x", month_first=True)
    assert european.when.due.date() == datetime(2026, 12, 3).date()
    assert american.when.due.date() == datetime(2027, 3, 12).date()
    assert european.when.check and "3 December" in european.when.check
    assert american.when.check and "12 March" in american.when.check


def test_a_time_in_the_past_asks_to_confirm_instead_of_guessing() -> None:
    parsed = parse("me yesterday at 9:00 to x")
    assert parsed.when.check is not None and "already passed" in parsed.when.check


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("me every 10 years to renew", "when", "repeats too rarely"),
        ("me blah to x", "when", "couldn't read 'blah'"),
        ("me to call Ana", "when", "Say when"),
        ("me tomorrow to " + "x" * 2000, "text", "2,000 characters"),
        ("everyone tomorrow to x", "who", "Say who to remind"),
        ("me tomorrow", "text", "after 'to'"),
        ("me every fortnight to x", "when", "don't know how to repeat"),
        ("me at 25:00 to x", "when", "couldn't read"),
    ],
)
def test_bad_input_gets_a_clear_answer(text: str, field: str, says: str) -> None:
    with pytest.raises(ReminderParseError) as caught:
        parse(text)
    assert caught.value.field == field
    assert says in caught.value.message
