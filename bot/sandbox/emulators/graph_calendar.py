"""Calendar and change notifications for the Graph emulator (delegated, as the signed-in organizer).

Plugged into a :class:`GraphEmulator` before ``start()`` with :func:`install_calendar`:

- ``POST /me/events`` (``transactionId`` makes a retry return the event already created), ``GET``/``PATCH``/
  ``DELETE /me/events/{id}``, ``POST /me/events/{id}/cancel``; online meetings get a Teams join URL;
- ``POST /me/findMeetingTimes`` (suggestions inside the requested window, avoiding every attendee's busy slots,
  or ``emptySuggestionsReason``) and ``POST /me/calendar/getSchedule``;
- ``POST /subscriptions`` with the validation handshake (the emulator calls ``notificationUrl?validationToken=`` and
  needs the token echoed as text/plain within 10 s), ``PATCH`` (renew), ``DELETE``; changes made "in Outlook"
  (:meth:`CalendarState.move_outside`, :meth:`CalendarState.cancel_outside`) are POSTed to subscribers with their
  ``clientState``.

Events need ``Calendars.ReadWrite`` in the token's ``scp``; a missing scope answers 403 as Graph does.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.emulators.graph import GraphEmulator, graph_error

CALENDAR = "Calendars.ReadWrite"
_FORMAT = "%Y-%m-%dT%H:%M:%S.0000000"


def _parse(value: dict[str, Any]) -> datetime:
    """Graph dateTimeTimeZone -> naive UTC (the emulator keeps everything in UTC)."""
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:
        text = text.split(".")[0]
    if str(value.get("timeZone", "UTC")).upper() not in {"UTC", "ETC/UTC"}:
        raise ValueError("the emulator only takes UTC times")
    return datetime.fromisoformat(text)


def _emit(when: datetime) -> dict[str, str]:
    return {"dateTime": when.strftime(_FORMAT), "timeZone": "UTC"}


@dataclass
class Subscription:
    id: str
    resource: str
    notification_url: str
    client_state: str | None
    expires: datetime
    change_type: str
    owner: str


@dataclass
class CalendarState:
    graph: GraphEmulator
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> event (with "_owner")
    busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)  # email -> busy slots (UTC)
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)  # room mailbox (lower) -> place (graph_places)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    validation_fails: bool = False  # the next subscription's handshake is answered wrongly on purpose
    created_requests: int = 0
    # Graph's own clock; a test whose bot runs on a fake clock hands the same one here.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- set-up and "outside" changes -----------------------------------------------------------------
    def busy_for(self, email: str, start: datetime, end: datetime) -> None:
        self.busy.setdefault(email.lower(), []).append((start, end))

    def move_outside(self, event_id: str, start: datetime, end: datetime) -> None:
        """Moved in Outlook: the event changes and subscribers hear of it."""
        event = self.events[event_id]
        event["start"], event["end"] = _emit(start), _emit(end)
        self._notify(event, "updated")

    def cancel_outside(self, event_id: str) -> None:
        event = self.events.pop(event_id)
        self._notify(event, "deleted")

    def _notify(self, event: dict[str, Any], change: str) -> None:
        owner = event["_owner"]
        for sub in list(self.subscriptions.values()):
            if sub.owner != owner or change not in sub.change_type:
                continue
            payload = {
                "value": [
                    {
                        "subscriptionId": sub.id,
                        "clientState": sub.client_state,
                        "changeType": change,
                        "resource": f"Users/{owner}/Events/{event['id']}",
                        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event["id"]},
                        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                    }
                ]
            }
            threading.Thread(target=_post_sync, args=(sub.notification_url, payload), daemon=True).start()


def _post_sync(url: str, payload: dict[str, Any]) -> None:
    async def post() -> None:
        async with aiohttp.ClientSession() as session, session.post(url, json=payload) as response:
            await response.read()

    asyncio.run(post())


def install_calendar(graph: GraphEmulator) -> CalendarState:
    routes = _CalendarRoutes(CalendarState(graph))
    graph.route("POST", "/v1.0/me/events", routes.create, scope=CALENDAR)
    graph.route("GET", "/v1.0/me/events/{id}", routes.get, scope=CALENDAR)
    graph.route("PATCH", "/v1.0/me/events/{id}", routes.patch, scope=CALENDAR)
    graph.route("DELETE", "/v1.0/me/events/{id}", routes.delete, scope=CALENDAR)
    graph.route("POST", "/v1.0/me/events/{id}/cancel", routes.cancel, scope=CALENDAR)
    graph.route("POST", "/v1.0/me/findMeetingTimes", routes.find_times, scope=CALENDAR)
    graph.route("POST", "/v1.0/me/calendar/getSchedule", routes.get_schedule, scope=CALENDAR)
    graph.route("POST", "/v1.0/subscriptions", routes.subscribe, scope=CALENDAR)
    graph.route("PATCH", "/v1.0/subscriptions/{id}", routes.renew, scope=CALENDAR)
    graph.route("DELETE", "/v1.0/subscriptions/{id}", routes.unsubscribe, scope=CALENDAR)
    return routes.state


class _CalendarRoutes:
    def __init__(self, state: CalendarState) -> None:
        self.state = state

    def owner(self, claims: dict[str, Any]) -> str:
        return str(claims.get("oid"))

    def public(self, event: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in event.items() if not k.startswith("_")}

    async def create(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        body = await request.json()
        self.state.created_requests += 1
        try:
            start, end = _parse(body["start"]), _parse(body["end"])
        except (KeyError, ValueError) as exc:
            return graph_error(400, "ErrorInvalidRequest", f"start and end are required in UTC: {exc}")
        if end <= start:
            return graph_error(400, "ErrorInvalidRequest", "The end of the event must be after its start.")
        transaction = body.get("transactionId")
        with self.state._lock:
            for event in self.state.events.values():
                if transaction and event.get("transactionId") == transaction and event["_owner"] == self.owner(claims):
                    return web.json_response(self.public(event), status=201)
            event_id = "AAMk" + uuid.uuid4().hex
            event = {
                "id": event_id,
                "subject": body.get("subject", ""),
                "body": body.get("body"),
                "start": _emit(start),
                "end": _emit(end),
                "attendees": self.answered(body.get("attendees", []), start, end),
                "location": body.get("location") or {"displayName": ""},
                "isOnlineMeeting": bool(body.get("isOnlineMeeting")),
                "onlineMeetingProvider": body.get("onlineMeetingProvider"),
                "onlineMeeting": (
                    {
                        "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{uuid.uuid4().hex}%40thread.v2/0"
                    }
                    if body.get("isOnlineMeeting")
                    else None
                ),
                "transactionId": transaction,
                "isCancelled": False,
                "organizer": {"emailAddress": {"address": claims.get("upn"), "name": claims.get("name")}},
                "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}",
                "_owner": self.owner(claims),
            }
            self.state.events[event_id] = event
        return web.json_response(self.public(event), status=201)

    def find(self, request: web.Request, claims: dict[str, Any]) -> dict[str, Any] | None:
        event = self.state.events.get(request.match_info["id"])
        return event if event is not None and event["_owner"] == self.owner(claims) else None

    async def get(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        event = self.find(request, claims)
        if event is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return web.json_response(self.public(event))

    async def patch(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        event = self.find(request, claims)
        if event is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        body = await request.json()
        for key in ("start", "end"):
            if key in body:
                event[key] = _emit(_parse(body[key]))
        for key in ("subject", "body", "location"):
            if key in body:
                event[key] = body[key]
        if "attendees" in body:
            event["attendees"] = self.answered(body["attendees"], _parse(event["start"]), _parse(event["end"]))
        return web.json_response(self.public(event))

    def answered(self, attendees: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The attendees as Graph shows them, each with a ``status``; a room (a ``resource`` attendee whose address
        is a room mailbox) answers at once, as automatic booking does: accepted and booked when free, declined when
        busy."""
        stamp = self.state.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        out = []
        for attendee in attendees:
            email = str((attendee.get("emailAddress") or {}).get("address") or "").lower()
            response = "none"
            if attendee.get("type") == "resource" and email in self.state.rooms:
                response = "accepted" if self.is_free([email], start, end) else "declined"
                if response == "accepted":
                    self.state.busy_for(email, start, end)
            out.append({**attendee, "status": {"response": response, "time": stamp}})
        return out

    async def cancel(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        event = self.find(request, claims)
        if event is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        body = await request.json() if request.can_read_body else {}
        event["isCancelled"] = True
        event["_cancel_comment"] = body.get("comment")
        self.state.events.pop(event["id"], None)
        return web.Response(status=202)

    async def delete(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        event = self.find(request, claims)
        if event is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        self.state.events.pop(event["id"], None)
        return web.Response(status=204)

    def is_free(self, emails: list[str], start: datetime, end: datetime) -> bool:
        for email in emails:
            for busy_start, busy_end in self.state.busy.get(email.lower(), []):
                if busy_start < end and start < busy_end:
                    return False
        return True

    async def find_times(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        body = await request.json()
        people = [a["emailAddress"]["address"] for a in body.get("attendees", []) if a.get("type") != "resource"]
        organizer = str(claims.get("upn"))
        duration = _duration(body.get("meetingDuration", "PT30M"))
        rooms, required = _rooms_asked(body.get("locationConstraint") or {}, self.state.rooms)
        wanted = int(body.get("maxCandidates", 3))
        suggestions: list[dict[str, Any]] = []
        reached = {"organizer": False, "attendees": False}
        for slot in body.get("timeConstraint", {}).get("timeSlots", []):
            cursor, stop = _parse(slot["start"]), _parse(slot["end"])
            while cursor + duration <= stop and len(suggestions) < wanted:
                found = self.suggestion(organizer, people, rooms, required, (cursor, cursor + duration), reached)
                if found is not None:
                    suggestions.append(found)
                    cursor += max(duration, timedelta(minutes=30))
                else:
                    cursor += timedelta(minutes=30)
        reason = "" if suggestions else self.empty_reason(reached, people, organizer, required)
        return web.json_response({"meetingTimeSuggestions": suggestions, "emptySuggestionsReason": reason})

    def suggestion(  # noqa: PLR0917 - one candidate slot, checked as Graph checks it
        self,
        organizer: str,
        people: list[str],
        rooms: list[str],
        required: bool,
        slot: tuple[datetime, datetime],
        reached: dict[str, bool],
    ) -> dict[str, Any] | None:
        """The suggestion for one candidate slot, or None; ``reached`` records how far a slot got (the reason)."""
        start, end = slot
        if not self.is_free([organizer], start, end):
            return None
        reached["organizer"] = True
        known = [p for p in people if _same_domain(p, organizer)]
        if not self.is_free(known, start, end):
            return None
        reached["attendees"] = True
        free_rooms = [r for r in rooms if self.is_free([r], start, end)]
        if required and not free_rooms:
            return None
        availability = [
            {
                "attendee": {"type": "required", "emailAddress": {"address": p}},
                "availability": "free" if _same_domain(p, organizer) else "unknown",
            }
            for p in people
        ]
        locations = [_location(self.state.rooms[r]) for r in free_rooms[:1]]
        return {
            "confidence": 100.0 if len(known) == len(people) else 50.0,
            "organizerAvailability": "free",
            "suggestionReason": "Suggested because it is one of the nearest times when all attendees are available.",
            "meetingTimeSlot": {"start": _emit(start), "end": _emit(end)},
            "attendeeAvailability": availability,
            "locations": locations,
        }

    def empty_reason(self, reached: dict[str, bool], people: list[str], organizer: str, required: bool) -> str:
        if not reached["organizer"]:
            return "organizerUnavailable"
        if not reached["attendees"]:
            unknown = any(not _same_domain(p, organizer) for p in people)
            return "attendeesUnavailableOrUnknown" if unknown else "attendeesUnavailable"
        return "locationsUnavailable" if required else "unknown"

    async def get_schedule(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        body = await request.json()
        start, end = _parse(body["startTime"]), _parse(body["endTime"])
        values = []
        for email in body.get("schedules", []):
            items = [
                {"status": "busy", "start": _emit(s), "end": _emit(e)}
                for s, e in self.state.busy.get(email.lower(), [])
                if s < end and start < e
            ]
            values.append(
                {
                    "scheduleId": email,
                    "scheduleItems": items,
                    "workingHours": {
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": "UTC"},
                    },
                }
            )
        return web.json_response({"value": values})

    async def subscribe(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        body = await request.json()
        url = str(body.get("notificationUrl", ""))
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            return graph_error(400, "InvalidRequest", "notificationUrl must be HTTPS.")
        token = uuid.uuid4().hex
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.post(url, params={"validationToken": token}) as response,
            ):
                echoed = await response.text()
                ok = response.status == 200 and echoed == token and not self.state.validation_fails
        except aiohttp.ClientError:
            ok = False
        if not ok:
            self.state.validation_fails = False
            return graph_error(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Response must exactly match validationToken query parameter.",
            )
        expires = datetime.fromisoformat(str(body["expirationDateTime"]).replace("Z", "+00:00")).replace(tzinfo=None)
        if expires - self.state.clock().replace(tzinfo=None) > timedelta(minutes=10080):
            return graph_error(
                400, "InvalidRequest", "Subscription expiration can only be 10080 minutes in the future."
            )
        sub = Subscription(
            uuid.uuid4().hex,
            body.get("resource", ""),
            url,
            body.get("clientState"),
            expires,
            body.get("changeType", ""),
            self.owner(claims),
        )
        self.state.subscriptions[sub.id] = sub
        return web.json_response(
            {
                "id": sub.id,
                "resource": sub.resource,
                "expirationDateTime": body["expirationDateTime"],
                "clientState": sub.client_state,
            },
            status=201,
        )

    async def renew(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        sub = self.state.subscriptions.get(request.match_info["id"])
        if sub is None:
            return graph_error(404, "ResourceNotFound", "The object was not found.")
        body = await request.json()
        sub.expires = datetime.fromisoformat(str(body["expirationDateTime"]).replace("Z", "+00:00")).replace(
            tzinfo=None
        )
        return web.json_response({"id": sub.id, "expirationDateTime": body["expirationDateTime"]})

    async def unsubscribe(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        if self.state.subscriptions.pop(request.match_info["id"], None) is None:
            return graph_error(404, "ResourceNotFound", "The object was not found.")
        return web.Response(status=204)


def _duration(value: str) -> timedelta:
    """ISO 8601 durations as Graph sends them: PT30M, PT1H, PT1H30M."""
    hours = minutes = 0
    text = value.upper().removeprefix("PT")
    if "H" in text:
        head, text = text.split("H", 1)
        hours = int(head)
    if "M" in text:
        minutes = int(text.split("M", 1)[0])
    return timedelta(hours=hours, minutes=minutes)


def _same_domain(address: str, organizer: str) -> bool:
    """Whether Graph can read this person's free/busy: someone of the organizer's organization (the emulator's
    stand-in for "inside the tenant"); anyone else's availability is unknown."""
    return address.lower().rsplit("@", 1)[-1] == organizer.lower().rsplit("@", 1)[-1]


def _location(room: dict[str, Any]) -> dict[str, Any]:
    return {
        "displayName": room["displayName"],
        "locationEmailAddress": room["emailAddress"],
        "locationType": "conferenceRoom",
        "uniqueId": room["emailAddress"],
        "uniqueIdType": "directory",
    }


def _rooms_asked(constraint: dict[str, Any], known: dict[str, dict[str, Any]]) -> tuple[list[str], bool]:
    """The room mailboxes whose availability to resolve, and whether a room is required. With ``suggestLocation``
    and no locations named, Graph suggests from the organization's rooms."""
    named = [
        str(item.get("locationEmailAddress") or "").lower()
        for item in constraint.get("locations") or []
        if item.get("resolveAvailability", True)
    ]
    rooms = [r for r in named if r in known]
    if not named and constraint.get("suggestLocation"):
        rooms = list(known)
    return rooms, bool(constraint.get("isRequired")) and bool(rooms or named)
