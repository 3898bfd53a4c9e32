"""The rules of scheduling, apart from Teams: who is invited, which times are offered, who may change a meeting.

- Invited: the typed addresses, the people @mentioned (their address from the conversation's roster) and, when asked
  ("this channel's members"), the conversation's members but the organizer; each once, at most
  :data:`MAX_ATTENDEES` (an invitation is not a broadcast).
- Offered: the free times Graph finds for everyone in the window asked (a form's day: its working hours, from now on);
  one proposal id for them all, the Graph ``transactionId``, so picking twice creates one event.
- Changed (moved, cancelled): only by the organizer, known by the inbound activity's Entra object id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.meetings.calendar import Calendar, RoomRef, Slot
from bot.features.meetings.parse import MeetingRequest
from bot.features.meetings.store import CANCELLED, SCHEDULED, Meeting, MeetingStore
from bot.platform.time import localize

logger = logging.getLogger(__name__)

MAX_ATTENDEES = 100
WORKING_HOURS = (time(9, 0), time(17, 0))

# Members of the conversation from its roster: one by their Teams id, or all of them (None).
MemberLookup = Callable[[str | None], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class Organizer:
    """Who schedules: the meetings are created in their calendar, as them."""

    tenant_id: str
    user_id: str  # Entra object id, lower case
    name: str | None

    def may_change(self, meeting: Meeting) -> bool:
        return self.user_id == meeting.organizer_id


@dataclass(frozen=True, slots=True)
class Invitees:
    emails: tuple[str, ...]
    capped: bool = False  # the channel's members were asked for and the list stops at MAX_ATTENDEES


@dataclass(frozen=True, slots=True)
class Plan:
    """A meeting to create: ``transaction`` makes a retry of the same plan return the same event."""

    subject: str
    start: datetime
    minutes: int
    emails: tuple[str, ...]
    transaction: str
    room: RoomRef | None = None

    @classmethod
    def once(
        cls, subject: str, start: datetime, minutes: int, emails: Sequence[str], room: RoomRef | None = None
    ) -> Plan:
        """A meeting asked for at an exact time: its own transaction."""
        return cls(subject, start, minutes, tuple(emails), uuid.uuid4().hex, room)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True, slots=True)
class Proposal:
    """Free times offered for one meeting; ``id`` becomes the transaction of whichever is picked."""

    id: str
    subject: str
    minutes: int
    emails: tuple[str, ...]
    slots: tuple[Slot, ...]

    @classmethod
    def offer(cls, subject: str, minutes: int, emails: Sequence[str], slots: Sequence[Slot]) -> Proposal:
        return cls(uuid.uuid4().hex, subject, minutes, tuple(emails), tuple(slots))


def address(member: Mapping[str, Any]) -> str | None:
    value = member.get("email") or member.get("userPrincipalName")
    return str(value).lower() if value else None


async def invitees(
    request: MeetingRequest, mentioned: Mapping[str, str], lookup: MemberLookup, organizer_id: str | None
) -> Invitees:
    """The addresses to invite; ``mentioned`` maps a mentioned name (lower case) to their Teams id."""
    emails = list(request.emails)
    for name in request.attendee_names:
        member_id = mentioned.get(name.lower())
        if member_id is not None:
            emails.extend(await mentioned_addresses([member_id], lookup))
    if request.channel_members:
        emails.extend(await _members(lookup, organizer_id))
    unique = list(dict.fromkeys(emails))
    return Invitees(tuple(unique[:MAX_ATTENDEES]), request.channel_members and len(unique) >= MAX_ATTENDEES)


async def mentioned_addresses(member_ids: Sequence[str], lookup: MemberLookup) -> list[str]:
    """The addresses of these members, skipping whom the roster does not know."""
    found: list[str] = []
    for member_id in member_ids:
        try:
            (member,) = await lookup(member_id)
        except Exception:
            logger.info("could not look up a mentioned attendee in the roster")
            continue
        if (email := address(member)) is not None:
            found.append(email)
    return list(dict.fromkeys(found))


async def _members(lookup: MemberLookup, organizer_id: str | None) -> list[str]:
    try:
        members = await lookup(None)
    except Exception:
        logger.info("could not read the channel roster for attendees")
        return []
    return [e for m in members if (e := address(m)) is not None and m.get("aadObjectId") != organizer_id]


def day_window(day: date, zone: str, now: datetime) -> tuple[datetime, datetime] | None:
    """Where to look for free times on a form's day: its working hours, from now on; None when they are over."""
    tz = ZoneInfo(zone)
    start = max(localize(datetime.combine(day, WORKING_HOURS[0]), tz), now)
    end = localize(datetime.combine(day, WORKING_HOURS[1]), tz)
    return (start, end) if end > start else None


def tomorrow(now: datetime, zone: str) -> str:
    """Tomorrow in the person's zone (ISO), the forms' default day."""
    return (now.astimezone(ZoneInfo(zone)) + timedelta(days=1)).date().isoformat()


class MeetingService:
    def __init__(self, store: MeetingStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def has_passed(self, start: datetime) -> bool:
        return start <= self._clock()

    async def create(
        self,
        calendar: Calendar,
        organizer: Organizer,
        plan: Plan,
        *,
        zone: str,
        conversation_id: str,
        caller: str | None = None,
    ) -> Meeting:
        """Create the Teams meeting in the organizer's calendar and remember it (Graph errors come out)."""
        event = await calendar.create(
            subject=plan.subject,
            start=plan.start,
            end=plan.end,
            emails=list(plan.emails),
            agenda=None,
            transaction_id=plan.transaction,
            room=plan.room,
        )
        meeting = Meeting(
            id="",
            tenant_id=organizer.tenant_id,
            organizer_id=organizer.user_id,
            organizer_name=organizer.name,
            event_id=event.id,
            transaction_id=plan.transaction,
            subject=plan.subject,
            start_at=event.start,
            end_at=event.end,
            zone=zone,
            attendees=plan.emails,
            join_url=event.join_url,
            status=SCHEDULED,
            conversation_id=conversation_id or None,
            room_email=plan.room.email if plan.room else None,
            room_name=plan.room.name if plan.room else None,
            room_response=event.room_response,
            caller=caller,
        )
        return await self._store.record(meeting, self._clock())

    async def card_posted(self, meeting: Meeting, conversation_id: str, activity_id: str | None) -> None:
        """Where the meeting's card is, so calendar changes can redraw it."""
        await self._store.set_card(meeting.id, conversation_id, activity_id, self._clock())

    async def find(self, meeting_id: str) -> Meeting | None:
        return await self._store.get(meeting_id) if meeting_id else None

    async def move(self, calendar: Calendar, meeting: Meeting, start: datetime, minutes: int) -> Meeting:
        event = await calendar.move(meeting.event_id, start, start + timedelta(minutes=minutes))
        await self._store.moved(meeting.id, event.start, event.end, self._clock())
        return await self._store.get(meeting.id) or meeting

    async def cancel(self, calendar: Calendar, meeting: Meeting) -> Meeting:
        """Cancel the event, telling the attendees who cancelled it."""
        await calendar.cancel(meeting.event_id, f"Cancelled from Teams by {meeting.organizer_name or 'the organizer'}.")
        await self._store.set_status(meeting.id, CANCELLED, self._clock())
        return await self._store.get(meeting.id) or meeting

    async def upcoming(self, organizer: Organizer) -> list[Meeting]:
        return await self._store.upcoming(organizer.tenant_id, organizer.user_id, self._clock())
