"""Finding a time, and when none works, saying why and offering the nearest alternatives.

Graph's ``findMeetingTimes`` explains an empty answer in ``emptySuggestionsReason``; who blocks comes from
``getSchedule`` (the attendees busy throughout the window). The alternatives tried, in order: the same hours on the
next working days, then a shorter meeting in the window asked for. Its words are in the turn's language.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.features.meetings.calendar import Calendar, RoomRef, Slot
from bot.platform.graph.errors import GraphError, PermissionDenied
from bot.platform.i18n import N_, _
from bot.platform.time import localize

logger = logging.getLogger(__name__)

WORKDAY = (time(9, 0), time(17, 0))
NEXT_DAYS = 3
REASONS = {
    "attendeesUnavailable": N_("not everyone is free at the same time then"),
    "attendeesUnavailableOrUnknown": N_(
        "some attendees are busy, or their calendars can't be read (outside your organization)"
    ),
    "organizerUnavailable": N_("your own calendar is full then"),
    "locationsUnavailable": N_("no room is free when everyone is"),
    "unknown": N_("Outlook didn't say why"),
}
NO_TIME = N_("No time works: {reason}.")
BLOCKING = N_(" Busy throughout: {who}.")
ALTERNATIVE = N_(" The nearest alternatives ({what}):")
NEXT_DAYS_LABEL = N_("the next working days")
SHORTER_LABEL = N_("{minutes} minutes instead of {asked}")


@dataclass(frozen=True, slots=True)
class Search:
    """What to look for: everyone's addresses, where (aware windows), how long, the rooms to try (none: no room),
    and the organizer's zone (for the next working days)."""

    emails: list[str]
    windows: list[tuple[datetime, datetime]]
    minutes: int
    rooms: list[RoomRef]
    zone: str


@dataclass(frozen=True, slots=True)
class Finding:
    slots: tuple[Slot, ...]
    minutes: int
    reason: str = ""  # Graph's emptySuggestionsReason for the window asked, when it had nothing
    blocking: tuple[str, ...] = ()
    alternative: str | None = None  # what was widened, when the slots are alternatives

    def explanation(self) -> str:
        text = _(NO_TIME, reason=_(REASONS.get(self.reason, REASONS["unknown"])))
        if self.blocking:
            text += _(BLOCKING, who=", ".join(self.blocking))
        if self.alternative and self.slots:
            text += _(ALTERNATIVE, what=self.alternative)
        return text


def _next_days(windows: list[tuple[datetime, datetime]], zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    last = max(b for _, b in windows).astimezone(zone)
    days: list[tuple[datetime, datetime]] = []
    day = last.date()
    while len(days) < NEXT_DAYS:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(
                (localize(datetime.combine(day, WORKDAY[0]), zone), localize(datetime.combine(day, WORKDAY[1]), zone))
            )
    return days


async def find_times(calendar: Calendar, search: Search) -> Finding:
    """Times for everyone (and a room, when ``rooms``); when none, why, who blocks, and the nearest alternatives."""
    emails, windows, minutes, rooms = search.emails, search.windows, search.minutes, search.rooms
    first = await calendar.suggest(emails, windows, minutes, rooms)
    if first.slots:
        return Finding(first.slots, minutes)
    blocking = await _blocking(calendar, emails, windows)
    tries = [(_(NEXT_DAYS_LABEL), _next_days(windows, ZoneInfo(search.zone)), minutes)]
    shorter = max(15, minutes // 2)
    if shorter < minutes:
        tries.append((_(SHORTER_LABEL, minutes=shorter, asked=minutes), windows, shorter))
    for label, wider, length in tries:
        found = await calendar.suggest(emails, wider, length, rooms)
        if found.slots:
            return Finding(found.slots, length, first.reason, blocking, label)
    return Finding((), minutes, first.reason, blocking)


async def _blocking(calendar: Calendar, emails: list[str], windows: list[tuple[datetime, datetime]]) -> tuple[str, ...]:
    try:
        return tuple(await calendar.busy_people(emails, windows))
    except PermissionDenied:
        raise
    except GraphError as exc:
        logger.info("could not read who blocks the window (%s)", exc.status)
        return ()
