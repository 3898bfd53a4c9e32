"""Understanding "remind ..." in words.

    remind me in 20 minutes to call Ana          remind me to call Ana in 20 minutes
    remind me tomorrow at 9am to send the report remind me on Dec 3 at 14:30 to ...
    remind @Ana on Friday to ...                 remind here every weekday at 9:00 to post the standup
    remind #channel every Monday at 10:00 to ... remind me every first Monday of the month to ...

Dates and times go to ``dateparser`` (relative to now, in the user's zone, preferring the future, with the user's
locale's day/month order); repetitions to :mod:`bot.features.reminders.recurrence`. What is ambiguous (a bare
3/12, a time already past) is flagged for confirmation rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser

from bot.features.reminders.grammar import Grammar, rewrite
from bot.features.reminders.recurrence import RecurrenceError, describe_rule, next_occurrence, parse_recurrence
from bot.platform import i18n
from bot.platform.i18n import _
from bot.platform.time import localize

MAX_TEXT = 500
DEFAULT_HOUR = 9
_TIME = re.compile(r"\b(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?=\W|$)", re.IGNORECASE)
_EXPLICIT_TIME = re.compile(r"\d{1,2}:\d{2}|\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|\bnoon\b|\bmidnight\b", re.IGNORECASE)
_RELATIVE = re.compile(r"\b(?:in|dans|en|em)\s+(?:an?|\d+|a few)\s+\w+|\d+\s*(?:分|時間|日)後", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")
_SCHEDULE_START = re.compile(
    r"\b(in|at|on|by|tomorrow|today|tonight|every|next|this|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|noon|midnight|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\b",
    re.IGNORECASE,
)


class ReminderParseError(ValueError):
    """What is wrong, for the user; ``field`` names the part (who, when, text)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "me" | "here" | "user"
    name: str | None = None  # the mentioned person's display name


@dataclass(frozen=True, slots=True)
class When:
    due: datetime  # the first time it fires, aware, in the user's zone
    rule: str | None = None  # RRULE (no DTSTART) for repeating reminders
    anchor: datetime | None = None  # the rule's start (its DTSTART), aware
    repeat: str | None = None  # "every weekday at 09:00", for people
    check: str | None = None  # why the user should confirm before it is stored (ambiguous, in the past)


@dataclass(frozen=True, slots=True)
class ParsedReminder:
    target: Target
    text: str
    when: When


def _target(rest: str, mention_names: list[str], grammar: Grammar | None = None) -> tuple[Target, str]:
    lowered = rest.lower()
    words = [("me ", "me"), ("here ", "here"), ("#channel ", "here"), ("this channel ", "here")]
    if grammar is not None:
        words = [(f"{w} ", "me") for w in grammar.me] + [(f"{w} ", "here") for w in grammar.here]
    for word, kind in words:
        if lowered.startswith(word):
            return Target(kind), rest[len(word) :]
    for name in sorted(mention_names, key=len, reverse=True):
        for form in (f"@{name} ", f"{name} "):
            if lowered.startswith(form.lower()):
                return Target("user", name), rest[len(form) :]
    if grammar is not None and grammar.implicit_me:
        return Target("me"), rest
    raise ReminderParseError(
        "who", _("Say who to remind: remind me …, remind @someone …, or remind here … (this chat or channel).")
    )


def _split_by(rest: str, grammar: Grammar) -> tuple[str, str]:
    """(schedule words, reminder text) from "<schedule> <separator> <text>", the grammar's separators in order."""
    padded = f" {rest.strip()} "
    for separator in grammar.to:
        head, sep, text = padded.partition(separator)
        if sep and head.strip() and text.strip():
            return head.strip(), text.strip()
    raise ReminderParseError("text", _("Say what to be reminded of, e.g. remind me tomorrow to call Ana."))


def _split(rest: str, grammar: Grammar | None = None) -> tuple[str, str]:
    """(schedule words, reminder text) from "<schedule> to <text>" or "to <text> <schedule>"."""
    if grammar is not None:
        return _split_by(rest, grammar)
    rest = rest.strip()
    if rest.lower().startswith("to "):
        body = rest[3:]
        # The schedule is the longest tail that reads as one: try each place a schedule word starts.
        for match in _SCHEDULE_START.finditer(body):
            tail = body[match.start() :]
            if _reads_as_schedule(tail):
                return tail.strip(), body[: match.start()].strip()
        return "", body.strip()
    head, sep, text = rest.partition(" to ")
    if not sep:
        raise ReminderParseError(
            "text", _("Say what to be reminded of after 'to', e.g. remind me tomorrow to call Ana.")
        )
    return head.strip(), text.strip()


def _reads_as_schedule(words: str) -> bool:
    if words.lower().startswith("every "):
        return True
    return dateparser.parse(words, languages=["en"], settings={"PREFER_DATES_FROM": "future"}) is not None


def _time_of_day(words: str) -> tuple[int, int] | None:
    lowered = words.lower()
    if "noon" in lowered:
        return 12, 0
    if "midnight" in lowered:
        return 0, 0
    match = _TIME.search(words)
    if match is None or not _EXPLICIT_TIME.search(words):
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "").lower()
    if half.startswith("p") and hour < 12:
        hour += 12
    if half.startswith("a") and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ReminderParseError("when", _("{time} is not a time of day.", time=match.group(0).strip()))
    return hour, minute


def parse_when(words: str, *, now: datetime, zone: ZoneInfo, month_first: bool, grammar: Grammar | None = None) -> When:
    """When the schedule words mean, relative to ``now`` in ``zone`` (in ``grammar``'s language, else English)."""
    local_now = now.astimezone(zone)
    languages = ["en"]
    if grammar is not None and words:
        words = rewrite(grammar, words)
        languages = [grammar.language, "en"]
    if not words:
        raise ReminderParseError("when", _("Say when, e.g. in 20 minutes, tomorrow at 9am, on Dec 3 at 14:30."))
    lowered = words.lower().strip()
    if lowered.startswith("every "):
        spec = lowered[len("every ") :]
        clock = _time_of_day(spec)
        spec = re.sub(r"\s*\bat\b.*$", "", spec).strip() if clock else spec
        hour, minute = clock or (DEFAULT_HOUR, 0)
        try:
            recurrence = parse_recurrence(spec, start=local_now)
        except RecurrenceError as exc:
            raise ReminderParseError("when", str(exc)) from None
        start = localize(local_now.replace(tzinfo=None, hour=hour, minute=minute, second=0, microsecond=0), zone)
        # Anchored on today at that time: "every 2 weeks" counts from now.
        first = next_occurrence(recurrence.rule, first=start, after=now, zone=zone)
        if first is None:
            raise ReminderParseError("when", _("That repetition never happens."))
        return When(first, recurrence.rule, start, describe_rule(recurrence.rule, start))
    settings = {
        "RELATIVE_BASE": local_now.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": zone.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "DATE_ORDER": "MDY" if month_first else "DMY",
    }
    plain = re.sub(r"\bat (?=\d)", "", words) if grammar is not None else words  # "morgen 9:00" for dateparser
    parsed = dateparser.parse(plain, languages=languages, settings=settings)
    if parsed is None:
        raise ReminderParseError("when", _("I couldn't read '{words}' as a date or time.", words=words))
    due = parsed.astimezone(zone)
    if not _EXPLICIT_TIME.search(words) and not _RELATIVE.search(words):
        due = localize(due.replace(tzinfo=None, hour=DEFAULT_HOUR, minute=0, second=0, microsecond=0), zone)
    check = None
    numeric = _NUMERIC_DATE.search(words)
    if numeric and numeric.group(1) != numeric.group(2) and int(numeric.group(1)) <= 12 and int(numeric.group(2)) <= 12:
        left, right = int(numeric.group(1)), int(numeric.group(2))
        day, month = (right, left) if month_first else (left, right)
        check = _(
            "Is {date} the {day} {month}? Fix the date below if not.",
            date=numeric.group(0),
            day=day,
            month=_month(month),
        )
    if due <= now:
        check = _("{when} has already passed. Pick a time in the future.", when=i18n.current().day_and_time(due))
    elif due - now > timedelta(days=366 * 2):
        raise ReminderParseError("when", _("That is more than two years away; pick a nearer date."))
    return When(due, check=check)


def _month(n: int) -> str:
    words = i18n.current()
    return datetime(2000, n, 1).strftime("%B") if words.is_english else words.month_name(n)


def parse_reminder(
    text: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    mention_names: list[str],
    month_first: bool = True,
    grammar: Grammar | None = None,
) -> ParsedReminder:
    """``text`` is what follows the command word ("remind"; in ``grammar``'s language, e.g. "erinnere")."""
    target, rest = _target(text.strip() + " ", mention_names, grammar)
    schedule, what = _split(rest, grammar)
    if not what:
        raise ReminderParseError("text", _("Say what to be reminded of, e.g. remind me tomorrow to call Ana."))
    if len(what) > MAX_TEXT:
        raise ReminderParseError(
            "text",
            _(
                "That reminder is {length} characters; keep it under {limit} (link to a document instead).",
                length=i18n.current().number(len(what)),
                limit=MAX_TEXT,
            ),
        )
    when = parse_when(schedule, now=now, zone=zone, month_first=month_first, grammar=grammar)
    return ParsedReminder(target, what, when)
