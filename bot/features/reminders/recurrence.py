"""Recurrence in words -> RFC 5545 rules (``python-dateutil``'s ``rrule``), and wall-clock time across DST.

Occurrences are computed in the reminder's time zone on naive wall-clock times, then localized: "every day at
9:00" stays at 9:00 across daylight-saving changes. A wall-clock time that does not exist (the spring-forward gap)
fires at the first instant after the gap; an ambiguous one (the autumn overlap) fires at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from bot.platform import i18n
from bot.platform.i18n import N_, _, ngettext
from bot.platform.time import localize

WEEKDAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
    "mon": "MO",
    "tue": "TU",
    "tues": "TU",
    "wed": "WE",
    "thu": "TH",
    "thur": "TH",
    "thurs": "TH",
    "fri": "FR",
    "sat": "SA",
    "sun": "SU",
}
DAY_NAMES = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": -1}
MAX_INTERVAL = {"DAILY": 90, "WEEKLY": 52, "MONTHLY": 12, "YEARLY": 1}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "other": 2}


class RecurrenceError(ValueError):
    """The repetition cannot be understood or is not allowed; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Recurrence:
    rule: str  # e.g. "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    description: str  # e.g. "every weekday"


def _weekday_list(text: str) -> list[str] | None:
    parts = [p for p in re.split(r"\s*(?:,|\band\b|&)\s*", text.strip()) if p]
    days = []
    for part in parts:
        code = WEEKDAYS.get(part.lower().rstrip("s")) or WEEKDAYS.get(part.lower())
        if code is None:
            return None
        days.append(code)
    return days or None


def _count(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word.lower())


def parse_recurrence(spec: str, *, start: datetime) -> Recurrence:
    """``spec`` is what follows "every", without the time of day: "weekday", "2 weeks on monday", "first monday of
    the month", "month on the 15th", "monday and wednesday". ``start`` fills in what the words leave open."""
    words = spec.strip().lower()
    words = re.sub(r"\s+", " ", words)
    if words in {"day", "days", "morning", "evening"}:
        return Recurrence("FREQ=DAILY", "every day")
    if words in {"weekday", "weekdays", "work day", "workday", "working day"}:
        return Recurrence("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday")
    if words in {"weekend", "weekends"}:
        return Recurrence("FREQ=WEEKLY;BYDAY=SA,SU", "every weekend day")
    days = _weekday_list(words)
    if days:
        return Recurrence(f"FREQ=WEEKLY;BYDAY={','.join(days)}", "every " + _names(days))
    match = re.fullmatch(r"(first|1st|second|2nd|third|3rd|fourth|4th|last) (\w+) of (?:the|every|each) month", words)
    if match:
        ordinal, day = ORDINALS[match.group(1)], WEEKDAYS.get(match.group(2))
        if day is None:
            raise RecurrenceError(_("'{day}' is not a day of the week.", day=match.group(2)))
        label = "last" if ordinal == -1 else match.group(1)
        return Recurrence(f"FREQ=MONTHLY;BYDAY={ordinal:+d}{day}", f"every {label} {DAY_NAMES[day]} of the month")
    match = re.fullmatch(r"(?:(\w+) )?(day|week|month|year)s?(?: on (?:the )?(.+))?", words)
    if match:
        count = _count(match.group(1)) if match.group(1) else 1
        if count is None:
            raise RecurrenceError(_("I couldn't read '{number}' as a number.", number=match.group(1)))
        unit, on = match.group(2), match.group(3)
        freq = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}[unit]
        if count < 1:
            raise RecurrenceError(_("Repeat at least once per period."))
        if count > MAX_INTERVAL[freq]:
            longest = _every(freq, MAX_INTERVAL[freq])
            raise RecurrenceError(
                _(
                    "That repeats too rarely ({asked}); the longest is {longest}.",
                    asked=_every(freq, count),
                    longest=longest,
                )
            )
        rule = f"FREQ={freq}" + (f";INTERVAL={count}" if count > 1 else "")
        every = f"every {count} {unit}s" if count > 1 else f"every {unit}"
        if on:
            if freq == "WEEKLY":
                on_days = _weekday_list(on)
                if not on_days:
                    raise RecurrenceError(_("'{day}' is not a day of the week.", day=on))
                return Recurrence(f"{rule};BYDAY={','.join(on_days)}", f"{every} on {_names(on_days)}")
            if freq == "MONTHLY":
                day_of_month = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", on.strip())
                if not day_of_month or not 1 <= int(day_of_month.group(1)) <= 31:
                    raise RecurrenceError(_("'{day}' is not a day of the month (1 to 31).", day=on))
                number = int(day_of_month.group(1))
                return Recurrence(f"{rule};BYMONTHDAY={number}", f"{every} on the {_ordinal(number)}")
            raise RecurrenceError(_("I can't repeat {every} on '{on}'.", every=_every(freq, 1), on=on))
        if freq == "WEEKLY":
            code = list(DAY_NAMES)[start.weekday()]
            return Recurrence(f"{rule};BYDAY={code}", f"{every} on {DAY_NAMES[code]}")
        if freq == "MONTHLY":
            return Recurrence(f"{rule};BYMONTHDAY={start.day}", f"{every} on the {_ordinal(start.day)}")
        return Recurrence(rule, every)
    raise RecurrenceError(
        _(
            "I don't know how to repeat 'every {spec}'. Try every day, every weekday, every Monday, "
            "every 2 weeks, every month on the 15th or every first Monday of the month.",
            spec=spec.strip(),
        )
    )


def _names(days: list[str]) -> str:
    names = [DAY_NAMES[d] for d in days]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def next_occurrence(rule: str, *, first: datetime, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first occurrence of ``rule`` (started at ``first``, wall clock in ``zone``) strictly after ``after``."""
    start = first.astimezone(zone).replace(tzinfo=None)
    recurrence = rrulestr(rule, dtstart=start)
    cursor = after.astimezone(zone).replace(tzinfo=None)
    for _attempt in range(3):  # a wall time in the autumn overlap can map before ``after``: step past it
        candidate = recurrence.after(cursor, inc=False)
        if candidate is None:
            return None
        when = localize(candidate, zone)
        if when > after:
            return when
        cursor = candidate
    return None


_ORDINAL_WORDS = {1: N_("first"), 2: N_("second"), 3: N_("third"), 4: N_("fourth"), -1: N_("last")}


def _every(freq: str, count: int) -> str:
    if freq == "DAILY":
        return ngettext("every day", "every {n} days", count, n=count)
    if freq == "WEEKLY":
        return ngettext("every week", "every {n} weeks", count, n=count)
    if freq == "MONTHLY":
        return ngettext("every month", "every {n} months", count, n=count)
    if freq == "YEARLY":
        return ngettext("every year", "every {n} years", count, n=count)
    return _("every time")


def _day_names(days: list[str]) -> str:
    """Day names in the current language, "Monday, Tuesday and Friday"."""
    words = i18n.current()
    if words.is_english:
        return _names(days)
    wide = words.babel_locale.days["format"]["wide"]
    names = [str(wide[list(DAY_NAMES).index(d)]) for d in days]
    return names[0] if len(names) == 1 else _("{days} and {last}", days=", ".join(names[:-1]), last=names[-1])


def _day_of_month(n: int) -> str:
    return _ordinal(n) if i18n.current().is_english else str(n)


def describe_rule(rule: str, local: datetime) -> str:
    """A stored rule in words, in the current language, at ``local``'s wall-clock time: "every weekday at 09:00",
    "every 2 weeks on Monday at 10:00", "every month on the 15th at 08:30", "every first Monday of the month at
    09:00" (the inverse of :func:`parse_recurrence`)."""
    parts = dict(part.split("=", 1) for part in rule.split(";") if "=" in part)
    freq = parts.get("FREQ", "")
    count = int(parts["INTERVAL"]) if parts.get("INTERVAL", "").isdigit() else 1
    every = _every(freq, count)
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    monthly_day = re.fullmatch(r"([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)", days[0]) if len(days) == 1 else None
    if days == ["MO", "TU", "WE", "TH", "FR"] and count == 1:
        every = _("every weekday")
    elif days == ["SA", "SU"] and count == 1:
        every = _("every weekend day")
    elif days and all(d in DAY_NAMES for d in days):
        names = _day_names(days)
        every = _("every {days}", days=names) if count == 1 else _("{every} on {days}", every=every, days=names)
    elif freq == "MONTHLY" and monthly_day and int(monthly_day.group(1)) in _ORDINAL_WORDS:
        which = _(_ORDINAL_WORDS[int(monthly_day.group(1))])
        day = _day_names([monthly_day.group(2)])
        every = _("every {ordinal} {day} of the month", ordinal=which, day=day)
    elif parts.get("BYMONTHDAY", "").isdigit():
        every = _("{every} on the {ordinal}", every=every, ordinal=_day_of_month(int(parts["BYMONTHDAY"])))
    return _("{every} at {time}", every=every, time=f"{local:%H:%M}")
