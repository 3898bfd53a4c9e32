"""Understanding "schedule ...".

    schedule Design review with @Ana @Ben tomorrow afternoon for 30m
    schedule Budget sync with ana@contoso.com on Friday at 3pm for 1h
    schedule Retro with this channel's members next Tuesday

The subject runs up to "with"; attendees are the @mentions (and addresses) after it; then an optional day and part of
the day or an exact time (``dateparser``), and "for <duration>" (default 30 minutes, at most 8 hours). Without an
exact time Courier looks for free times in the window: a day means working hours (09:00-17:00 in the organizer's
zone), "morning" 09:00-12:00, "afternoon" 13:00-17:00; no day at all means the next three working days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser

from bot.platform import i18n
from bot.platform.i18n import _
from bot.platform.time import localize

DEFAULT_MINUTES = 30
MAX_MINUTES = 8 * 60
WORKDAY = (time(9, 0), time(17, 0))
PARTS = {
    "morning": (time(9, 0), time(12, 0)),
    "afternoon": (time(13, 0), time(17, 0)),
    "evening": (time(17, 0), time(19, 0)),
}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DURATION = re.compile(r"\bfor\s+(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hr|hrs|hours?)\b", re.IGNORECASE)
_CHANNEL = re.compile(r"\b(?:this channel'?s members|the channel|this channel|everyone here)\b", re.IGNORECASE)
_ROOM = re.compile(r"\b(?:in|with)\s+a\s+room(?:\s+for\s+(\d{1,3})(?:\s+(?:people|persons|seats))?)?\b", re.IGNORECASE)
_EXACT = re.compile(r"\d{1,2}:\d{2}|\d{1,2}\s*(?:am|pm)|\bnoon\b", re.IGNORECASE)


class MeetingParseError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True, slots=True)
class MeetingRequest:
    subject: str
    attendee_names: tuple[str, ...] = ()  # @mentions, matched to the activity's mention entities by the caller
    emails: tuple[str, ...] = ()
    channel_members: bool = False
    minutes: int = DEFAULT_MINUTES
    start: datetime | None = None  # an exact start (aware, organizer's zone)
    windows: tuple[tuple[datetime, datetime], ...] = field(default=())  # where to look for free times (aware)
    room_for: int | None = None  # "in a room" (0) / "with a room for 8" (8): book a room with that many seats


def _working_days(after: datetime, count: int) -> list[datetime]:
    days: list[datetime] = []
    cursor = after
    while len(days) < count:
        if cursor.weekday() < 5:
            days.append(cursor)
        cursor += timedelta(days=1)
    return days


_TIME_START = re.compile(
    r"\b(tomorrow|today|tonight|yesterday|on|at|next|this|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"morning|afternoon|evening|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\b",
    re.IGNORECASE,
)


def _split_time(words: str) -> tuple[str, str]:
    """("Retro tomorrow at 10:00" -> "Retro", "tomorrow at 10:00"): the longest tail that reads as a time."""
    for match in _TIME_START.finditer(words):
        if match.start() == 0:
            continue
        tail = words[match.start() :]
        bare = re.sub(r"\b(morning|afternoon|evening)\b", "", tail, flags=re.IGNORECASE).strip()
        if not bare or dateparser.parse(bare, languages=["en"], settings={"PREFER_DATES_FROM": "future"}):
            return words[: match.start()].strip(), tail
    return words, ""


def _duration(words: str) -> tuple[int, str]:
    """("for 45m" -> 45 minutes, the words without it)."""
    match = _DURATION.search(words)
    if not match:
        return DEFAULT_MINUTES, words
    amount, unit = float(match.group(1)), match.group(2).lower()
    minutes = int(amount * 60) if unit.startswith("h") else int(amount)
    if not 5 <= minutes <= MAX_MINUTES:
        raise MeetingParseError("duration", _("A meeting lasts from 5 minutes to 8 hours."))
    return minutes, (words[: match.start()] + words[match.end() :]).strip()


def _people(rest: str, mention_names: list[str]) -> tuple[list[str], list[str], bool, str]:
    """(mentioned names, addresses, "this channel's members"?, what is left: the time words)."""
    names: list[str] = []
    for name in sorted(mention_names, key=len, reverse=True):
        for form in (f"@{name}", name):
            if form.lower() in rest.lower():
                at = rest.lower().index(form.lower())
                rest = rest[:at] + " " + rest[at + len(form) :]
                names.append(name)
                break
    emails = [e.lower() for e in _EMAIL.findall(rest)]
    rest = _EMAIL.sub(" ", rest)
    channel = bool(_CHANNEL.search(rest))
    return names, emails, channel, _CHANNEL.sub(" ", rest)


def parse_meeting(text: str, *, now: datetime, zone: ZoneInfo, mention_names: list[str]) -> MeetingRequest:
    """``text`` is what follows the word "schedule"."""
    words = text.strip()
    if not words:
        raise MeetingParseError("subject", _("Say what the meeting is about, e.g. schedule Design review with @Ana."))
    room_for, words = _room(words)
    minutes, words = _duration(words)
    subject, sep, rest = words.partition(" with ")
    if not sep:
        subject, rest = _split_time(words)
    subject = subject.strip()
    names, emails, channel, rest = _people(rest, mention_names)
    when = re.sub(r"\s+", " ", re.sub(r"\b(and|,)\b|,", " ", rest)).strip()
    if not subject:
        raise MeetingParseError("subject", _("Say what the meeting is about before 'with'."))
    if len(subject) > 255:
        raise MeetingParseError("subject", _("Keep the subject under 255 characters."))
    local_now = now.astimezone(zone)
    start: datetime | None = None
    windows: list[tuple[datetime, datetime]] = []
    part = next((p for p in PARTS if re.search(rf"\b{p}\b", when, re.IGNORECASE)), None)
    day_words = re.sub(rf"\b{part}\b", "", when, flags=re.IGNORECASE).strip() if part else when
    if day_words:
        settings = {
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "TIMEZONE": zone.key,
            "RETURN_AS_TIMEZONE_AWARE": True,
        }
        parsed = dateparser.parse(day_words, languages=["en"], settings=settings)
        if parsed is None:
            raise MeetingParseError("when", _("I couldn't read '{day_words}' as a day or time.", day_words=day_words))
        parsed = parsed.astimezone(zone)
        if _EXACT.search(day_words) and not part:
            start = parsed
            if start <= now:
                raise MeetingParseError(
                    "when", _("{when} has already passed.", when=i18n.current().day_and_time(start))
                )
        else:
            begin, end = PARTS[part] if part else WORKDAY
            windows.append(
                (
                    localize(datetime.combine(parsed.date(), begin), zone),
                    localize(datetime.combine(parsed.date(), end), zone),
                )
            )
    else:
        begin, end = PARTS[part] if part else WORKDAY
        for day in _working_days(local_now, 3):
            windows.append(
                (localize(datetime.combine(day.date(), begin), zone), localize(datetime.combine(day.date(), end), zone))
            )
    windows = [(max(a, now), b) for a, b in windows if b - max(a, now) >= timedelta(minutes=minutes)]
    if start is None and not windows:
        raise MeetingParseError("when", _("That time window has passed or is too short for the meeting."))
    return MeetingRequest(
        subject,
        tuple(names),
        tuple(emails),
        channel,
        minutes=minutes,
        start=start,
        windows=tuple(windows),
        room_for=room_for,
    )


def _room(words: str) -> tuple[int | None, str]:
    """("... in a room" -> 0 seats asked; "... with a room for 8" -> 8), the words without it."""
    match = _ROOM.search(words)
    if not match:
        return None, words
    seats = int(match.group(1)) if match.group(1) else 0
    return seats, re.sub(r"\s+", " ", words[: match.start()] + " " + words[match.end() :]).strip()
