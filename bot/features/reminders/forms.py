"""The reminder form: what it shows (new, to check, to edit, about a message) and what a submitted one means."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.reminders.parse import MAX_TEXT, ParsedReminder, ReminderParseError, Target, When
from bot.features.reminders.recurrence import describe_rule
from bot.features.reminders.service import first_time, form_choice, form_recurrence
from bot.features.reminders.store import Reminder
from bot.platform import i18n
from bot.platform.i18n import N_, _
from bot.platform.time import localize

MAX_AHEAD = timedelta(days=732)
TARGETS = ("me", "here", "user")
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FormValues:
    """The visible inputs; an empty one is left to the form's default (time 09:00, no repetition)."""

    text: str = ""
    date: str = ""
    time: str = ""
    repeat: str = ""

    def data(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True, slots=True)
class Hidden:
    """What the submit button carries back: who it is for, the reminder an edit replaces, the message it is about."""

    target: str = ""
    name: str = ""
    replaces: str = ""
    link: str = ""
    zone: str = ""  # the zone the form's times are in: what is typed is read in it

    def data(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True, slots=True)
class ReminderForm:
    title: str
    zone: str
    values: FormValues
    hidden: Hidden
    problem: str | None = None


def blank(now: datetime, zone: str) -> ReminderForm:
    """``remind`` alone: tomorrow at 09:00, for me."""
    tomorrow = (now.astimezone(ZoneInfo(zone)) + timedelta(days=1)).date()
    return ReminderForm(N_("New reminder"), zone, FormValues(date=tomorrow.isoformat(), time="09:00"), Hidden("me"))


def to_check(parsed: ParsedReminder, zone: str) -> ReminderForm:
    """A reminder in words that needs a second look (an ambiguous date, a time past): prefilled, with why."""
    due = parsed.when.due.astimezone(ZoneInfo(zone))
    values = FormValues(parsed.text, due.date().isoformat(), f"{due:%H:%M}", parsed.when.rule or "none")
    hidden = Hidden(parsed.target.kind, parsed.target.name or "")
    return ReminderForm(N_("Check this reminder"), zone, values, hidden, problem=parsed.when.check)


def for_edit(reminder: Reminder, zone: str) -> ReminderForm:
    """A reminder's own form, in the editor's zone (the one the form names, and reads the typed time in); saving
    it replaces the reminder."""
    local = reminder.due_at.astimezone(ZoneInfo(zone))
    values = FormValues(reminder.text, local.date().isoformat(), f"{local:%H:%M}", form_choice(reminder.rule))
    target = "here" if reminder.target_kind == "conversation" else "me"
    return ReminderForm(N_("Edit reminder"), zone, values, Hidden(target, replaces=reminder.id, zone=zone))


def about_message(value: Mapping[str, Any], now: datetime, zone: str) -> ReminderForm:
    """The message action "Remind me about this": its text (tags dropped), an hour from now, a link back to it."""
    payload = value.get("messagePayload")
    payload = payload if isinstance(payload, dict) else {}
    body = payload.get("body")
    content = str((body if isinstance(body, dict) else {}).get("content") or "")
    plain = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", content))).strip()[:MAX_TEXT]
    link = str(payload.get("linkToMessage") or "")
    local = now.astimezone(ZoneInfo(zone)) + timedelta(hours=1)
    values = FormValues(plain, local.date().isoformat(), f"{local:%H}:00")
    return ReminderForm(N_("Remind me about this"), zone, values, Hidden("me", link=link))


def submitted(data: Mapping[str, Any]) -> tuple[FormValues, Hidden]:
    """What a submitted form says (text and numbers only; anything else is ignored)."""
    raw = {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
    values = FormValues(raw.get("text", ""), raw.get("date", ""), raw.get("time", ""), raw.get("repeat", ""))
    hidden = Hidden(
        raw.get("target", ""), raw.get("name", ""), raw.get("replaces", ""), raw.get("link", ""), raw.get("zone", "")
    )
    return values, hidden


def with_problem(values: FormValues, hidden: Hidden, zone: str, problem: str) -> ReminderForm:
    """The submitted form again, as it was, with what is wrong."""
    return ReminderForm(N_("Check this reminder"), zone, values, hidden, problem=problem)


def parse_form(values: FormValues, hidden: Hidden, *, zone: str, now: datetime) -> ParsedReminder:
    """The reminder a submitted form asks for; ReminderParseError says what to fix."""
    text = values.text.strip()
    if not text:
        raise ReminderParseError("text", _("Say what to be reminded of."))
    if len(text) > MAX_TEXT:
        raise ReminderParseError(
            "text",
            _(
                "Keep the text under {limit} characters (it has {length}).",
                limit=MAX_TEXT,
                length=i18n.current().number(len(text)),
            ),
        )
    tz = ZoneInfo(zone)
    due = localize(datetime.combine(_day(values.date), _clock(values.time)), tz)
    target = Target(hidden.target if hidden.target in TARGETS else "me", hidden.name or None)
    rule = values.repeat or "none"
    if rule != "none":
        rule = form_recurrence(rule, due)
        first = first_time(rule, due, now=now, zone=tz)
        if first is None:
            raise ReminderParseError("repeat", _("That repetition never happens."))
        return ParsedReminder(target, text, When(first, rule, due, describe_rule(rule, due)))
    if due <= now:
        raise ReminderParseError(
            "when", _("{when} has already passed. Pick a time in the future.", when=i18n.current().day_and_time(due))
        )
    if due - now > MAX_AHEAD:
        raise ReminderParseError("when", _("That is more than two years away; pick a nearer date."))
    return ParsedReminder(target, text, When(due))


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReminderParseError("when", _("Pick a date and a time.")) from None


def _clock(value: str) -> time:
    try:
        return time.fromisoformat(value).replace(second=0, microsecond=0)
    except ValueError:
        raise ReminderParseError("when", _("Pick a date and a time.")) from None
