"""The organizer's calendar through Microsoft Graph (delegated: Courier acts as the signed-in user).

Free times come from ``findMeetingTimes``; when it has no suggestions to give (or is unavailable), from
``getSchedule``, intersecting everyone's busy slots inside the window. Events are Teams meetings
(``isOnlineMeeting`` with ``teamsForBusiness``) created with a ``transactionId``: a retry of the same proposal
returns the event already created instead of a second one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.platform.graph.client import GraphCaller
from bot.platform.graph.errors import GraphError, NotFound
from bot.platform.identity.delegated import UserRef
from bot.platform.services import IdentityServices

logger = logging.getLogger(__name__)

PERMISSION = "Calendars.ReadWrite"
_FORMAT = "%Y-%m-%dT%H:%M:%S"


def graph_time(when: datetime) -> dict[str, str]:
    return {"dateTime": when.astimezone(UTC).strftime(_FORMAT), "timeZone": "UTC"}


def from_graph(value: dict[str, Any]) -> datetime:
    text = str(value["dateTime"]).rstrip("Z").split(".")[0]
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RoomRef:
    """A room to book: its mailbox is invited as a ``resource`` attendee and named as the location."""

    email: str
    name: str


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    room: RoomRef | None = None


@dataclass(frozen=True, slots=True)
class Suggestions:
    """What ``findMeetingTimes`` offered; when nothing, Graph's ``emptySuggestionsReason``."""

    slots: tuple[Slot, ...]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    subject: str
    start: datetime
    end: datetime
    join_url: str | None
    cancelled: bool = False
    attendees: tuple[str, ...] = ()  # people (not rooms), as the event lists them now
    room_response: str | None = None  # the room's answer (accepted, declined, none), when a room is invited


def _event(body: dict[str, Any]) -> Event:
    meeting = body.get("onlineMeeting") or {}
    people: list[str] = []
    room_response = None
    for attendee in body.get("attendees") or []:
        address = str((attendee.get("emailAddress") or {}).get("address") or "").lower()
        if attendee.get("type") == "resource":
            room_response = str((attendee.get("status") or {}).get("response") or "none")
        elif address:
            people.append(address)
    return Event(
        id=str(body["id"]),
        subject=str(body.get("subject") or ""),
        start=from_graph(body["start"]),
        end=from_graph(body["end"]),
        join_url=meeting.get("joinUrl") if isinstance(meeting, dict) else None,
        cancelled=bool(body.get("isCancelled")),
        attendees=tuple(people),
        room_response=room_response,
    )


def _attendees(emails: list[str], room: RoomRef | None = None) -> list[dict[str, Any]]:
    people = [{"emailAddress": {"address": e}, "type": "required"} for e in emails]
    if room is not None:
        people.append({"emailAddress": {"address": room.email, "name": room.name}, "type": "resource"})
    return people


async def open_calendar(identity: IdentityServices | None, user: UserRef | None) -> Calendar | None:
    """The person's calendar as them; None when delegated sign-in or Graph is off here (or Teams did not say who
    they are). Raises ``SignInRequired`` at once, before any card is drawn, when they have not signed in."""
    if identity is None or identity.delegated is None or user is None:
        return None
    caller = identity.as_user(user)
    if caller is None:
        return None
    await identity.delegated.get_token(user)
    return Calendar(caller)


class Calendar:
    def __init__(self, caller: GraphCaller) -> None:
        self._graph = caller

    async def suggest(
        self,
        emails: list[str],
        windows: list[tuple[datetime, datetime]],
        minutes: int,
        rooms: list[RoomRef],
        *,
        wanted: int = 3,
    ) -> Suggestions:
        """Times when everyone and one of ``rooms`` are free (``findMeetingTimes`` with a required location
        constraint, each room's availability resolved); or Graph's reason why there are none."""
        body = self._find_body(emails, windows, minutes, wanted)
        if rooms:
            body["locationConstraint"] = {
                "isRequired": True,
                "suggestLocation": False,
                "locations": [
                    {"displayName": r.name, "locationEmailAddress": r.email, "resolveAvailability": True} for r in rooms
                ],
            }
        result = await self._graph.post("/me/findMeetingTimes", body, permission=PERMISSION)
        names = {r.email.lower(): r for r in rooms}
        slots = []
        for s in result.get("meetingTimeSuggestions", []) if isinstance(result, dict) else []:
            places = [str(p.get("locationEmailAddress") or "").lower() for p in s.get("locations") or []]
            room = next((names[p] for p in places if p in names), None)
            if rooms and room is None:
                continue
            slot = s["meetingTimeSlot"]
            slots.append(Slot(from_graph(slot["start"]), from_graph(slot["end"]), room))
        reason = str(result.get("emptySuggestionsReason") or "") if isinstance(result, dict) else ""
        return Suggestions(tuple(slots[:wanted]), "" if slots else reason or "unknown")

    async def busy_people(self, emails: list[str], windows: list[tuple[datetime, datetime]]) -> list[str]:
        """Who has something in their calendar during every one of the windows (who blocks), from getSchedule."""
        if not emails or not windows:
            return []
        start, end = min(a for a, _ in windows), max(b for _, b in windows)
        body = {"schedules": emails, "startTime": graph_time(start), "endTime": graph_time(end)}
        result = await self._graph.post("/me/calendar/getSchedule", body, permission=PERMISSION)
        blocking = []
        for schedule in result.get("value", []) if isinstance(result, dict) else []:
            items = [i for i in schedule.get("scheduleItems", []) if i.get("status") != "free"]
            spans = [(from_graph(i["start"]), from_graph(i["end"])) for i in items]
            if spans and all(any(a < w_end and w_start < b for a, b in spans) for w_start, w_end in windows):
                blocking.append(str(schedule.get("scheduleId")))
        return blocking

    def _find_body(
        self, emails: list[str], windows: list[tuple[datetime, datetime]], minutes: int, wanted: int
    ) -> dict[str, Any]:
        return {
            "attendees": _attendees(emails),
            "timeConstraint": {
                "activityDomain": "work",
                "timeSlots": [{"start": graph_time(a), "end": graph_time(b)} for a, b in windows],
            },
            "meetingDuration": f"PT{minutes // 60}H{minutes % 60}M" if minutes >= 60 else f"PT{minutes}M",
            "maxCandidates": wanted,
            "isOrganizerOptional": False,
            "returnSuggestionReasons": True,
            "minimumAttendeePercentage": 100,
        }

    async def free_times(
        self, emails: list[str], windows: list[tuple[datetime, datetime]], minutes: int, *, wanted: int = 3
    ) -> list[Slot]:
        body = {
            "attendees": _attendees(emails),
            "timeConstraint": {
                "activityDomain": "work",
                "timeSlots": [{"start": graph_time(a), "end": graph_time(b)} for a, b in windows],
            },
            "meetingDuration": f"PT{minutes // 60}H{minutes % 60}M" if minutes >= 60 else f"PT{minutes}M",
            "maxCandidates": wanted,
            "isOrganizerOptional": False,
            "returnSuggestionReasons": True,
            "minimumAttendeePercentage": 100,
        }
        try:
            result = await self._graph.post("/me/findMeetingTimes", body, permission=PERMISSION)
            suggestions = result.get("meetingTimeSuggestions", []) if isinstance(result, dict) else []
            slots = [
                Slot(from_graph(s["meetingTimeSlot"]["start"]), from_graph(s["meetingTimeSlot"]["end"]))
                for s in suggestions
            ]
            if slots:
                return slots[:wanted]
            logger.info(
                "findMeetingTimes had no suggestion (%s); trying getSchedule", result.get("emptySuggestionsReason")
            )
        except GraphError as exc:
            if exc.status in (401, 403):
                raise
            logger.info("findMeetingTimes failed (%s); trying getSchedule", exc.status)
        return await self._from_schedules(emails, windows, minutes, wanted)

    async def _from_schedules(
        self, emails: list[str], windows: list[tuple[datetime, datetime]], minutes: int, wanted: int
    ) -> list[Slot]:
        if not windows:
            return []
        start, end = min(a for a, _ in windows), max(b for _, b in windows)
        body = {
            "schedules": emails,
            "startTime": graph_time(start),
            "endTime": graph_time(end),
            "availabilityViewInterval": 30,
        }
        result = await self._graph.post("/me/calendar/getSchedule", body, permission=PERMISSION)
        busy: list[tuple[datetime, datetime]] = []
        for schedule in result.get("value", []) if isinstance(result, dict) else []:
            for item in schedule.get("scheduleItems", []):
                if item.get("status") in {"busy", "tentative", "oof", "workingElsewhere"}:
                    busy.append((from_graph(item["start"]), from_graph(item["end"])))
        length, step = timedelta(minutes=minutes), timedelta(minutes=30)
        slots: list[Slot] = []
        for window_start, window_end in windows:
            cursor = window_start
            while cursor + length <= window_end and len(slots) < wanted:
                if all(not (b_start < cursor + length and cursor < b_end) for b_start, b_end in busy):
                    slots.append(Slot(cursor, cursor + length))
                    cursor += max(length, step)
                else:
                    cursor += step
        return slots

    async def create(
        self,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        emails: list[str],
        agenda: str | None,
        transaction_id: str,
        room: RoomRef | None = None,
    ) -> Event:
        body: dict[str, Any] = {
            "subject": subject,
            "start": graph_time(start),
            "end": graph_time(end),
            "attendees": _attendees(emails, room),
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
            "transactionId": transaction_id,
            "allowNewTimeProposals": True,
        }
        if agenda:
            body["body"] = {"contentType": "text", "content": agenda}
        if room is not None:
            body["location"] = {"displayName": room.name, "locationEmailAddress": room.email}
        return _event(await self._graph.post("/me/events", body, permission=PERMISSION))

    async def edit(self, event_id: str, changes: dict[str, Any], room: RoomRef | None = None) -> Event:
        """Change the event (``subject``, ``start``/``end`` as datetimes, ``attendees`` as addresses); attendees
        get the update. A booked room stays invited when the attendees change."""
        body: dict[str, Any] = {}
        if "subject" in changes:
            body["subject"] = changes["subject"]
        for key in ("start", "end"):
            if key in changes:
                body[key] = graph_time(changes[key])
        if "attendees" in changes:
            body["attendees"] = _attendees(list(changes["attendees"]), room)
        return _event(await self._graph.patch(f"/me/events/{quote(event_id)}", body, permission=PERMISSION))

    async def get(self, event_id: str) -> Event | None:
        try:
            return _event(await self._graph.get(f"/me/events/{quote(event_id)}", permission=PERMISSION))
        except NotFound:
            return None

    async def move(self, event_id: str, start: datetime, end: datetime) -> Event:
        body = {"start": graph_time(start), "end": graph_time(end)}
        return _event(await self._graph.patch(f"/me/events/{quote(event_id)}", body, permission=PERMISSION))

    async def cancel(self, event_id: str, comment: str) -> bool:
        """Cancel and notify the attendees; False when the event was gone already."""
        try:
            await self._graph.post(f"/me/events/{quote(event_id)}/cancel", {"comment": comment}, permission=PERMISSION)
        except NotFound:
            return False
        return True

    async def subscribe(self, notification_url: str, client_state: str, expires: datetime) -> str:
        """Have Graph POST changes (updated, deleted) of the person's events to ``notification_url``; returns the
        subscription's id. Graph checks the URL first with its ``validationToken`` handshake."""
        body = {
            "changeType": "updated,deleted",
            "notificationUrl": notification_url,
            "resource": "me/events",
            "expirationDateTime": _stamp(expires),
            "clientState": client_state,
        }
        created = await self._graph.post("/subscriptions", body, permission=PERMISSION)
        return str(created["id"])

    async def renew(self, subscription_id: str, expires: datetime) -> bool:
        """Move a subscription's expiry; False when Graph no longer has it."""
        body = {"expirationDateTime": _stamp(expires)}
        try:
            await self._graph.patch(f"/subscriptions/{quote(subscription_id)}", body, permission=PERMISSION)
        except NotFound:
            return False
        return True


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
