"""Rooms and room lists for the Graph emulator (``Place.Read.All``), plugged in with :func:`install_places` before
``start()``.

- ``GET /places/microsoft.graph.room``: every room (``id``, ``emailAddress``, ``displayName``, ``capacity``,
  ``building``, ``floorNumber``, ``floorLabel``, ``bookingType``, ...), paged with ``@odata.nextLink`` (``$top`` at
  most 100 a page here);
- ``GET /places/microsoft.graph.roomlist``: the room lists; ``GET /places/{list email}/microsoft.graph.roomlist/rooms``:
  the rooms of one list (404 for a list Graph does not know).

A room's mailbox is a calendar like anyone's: when the calendar emulator is given (``install_places(graph, calendar)``),
rooms are known to it, so ``findMeetingTimes`` resolves their availability and an event that invites one as a
``resource`` attendee gets the room's answer (accepted when free, declined when busy), as a room mailbox with
automatic processing does. Application or delegated tokens both work (Graph allows either for these reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.sandbox.emulators.graph import GraphEmulator, graph_error
from bot.sandbox.emulators.graph_calendar import CalendarState

PLACES = "Place.Read.All"
PAGE = 100


@dataclass
class PlacesState:
    calendar: CalendarState | None = None
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> room
    room_lists: dict[str, dict[str, Any]] = field(default_factory=dict)  # email (lower) -> room list
    members: dict[str, list[str]] = field(default_factory=dict)  # list email (lower) -> room ids

    def add_room(
        self,
        room_id: str,
        email: str,
        name: str,
        *,
        capacity: int,
        building: str = "",
        floor: int | None = None,
        room_list: str | None = None,
    ) -> dict[str, Any]:
        room = {
            "id": room_id,
            "emailAddress": email,
            "displayName": name,
            "nickname": name,
            "capacity": capacity,
            "building": building or None,
            "floorNumber": floor,
            "floorLabel": str(floor) if floor is not None else None,
            "bookingType": "standard",
            "isWheelChairAccessible": False,
            "audioDeviceName": None,
            "videoDeviceName": None,
            "displayDeviceName": None,
            "tags": [],
        }
        self.rooms[room_id] = room
        if self.calendar is not None:
            self.calendar.rooms[email.lower()] = room
        if room_list is not None:
            self.members.setdefault(room_list.lower(), []).append(room_id)
        return room

    def add_room_list(self, list_id: str, email: str, name: str) -> None:
        self.room_lists[email.lower()] = {"id": list_id, "emailAddress": email, "displayName": name}


def install_places(graph: GraphEmulator, calendar: CalendarState | None = None) -> PlacesState:
    state = PlacesState(calendar)
    routes = _PlacesRoutes(graph, state)
    graph.route("GET", "/v1.0/places/microsoft.graph.room", routes.rooms, role=PLACES)
    graph.route("GET", "/v1.0/places/microsoft.graph.roomlist", routes.room_lists, role=PLACES)
    graph.route("GET", "/v1.0/places/{list}/microsoft.graph.roomlist/rooms", routes.list_rooms, role=PLACES)
    return state


class _PlacesRoutes:
    def __init__(self, graph: GraphEmulator, state: PlacesState) -> None:
        self.graph = graph
        self.state = state

    def _paged(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        try:
            top = min(int(request.query.get("$top", PAGE)), PAGE)
            skip = int(request.query.get("$skip", "0"))
        except ValueError:
            return graph_error(400, "BadRequest", "$top and $skip must be integers.")
        body: dict[str, Any] = {"value": items[skip : skip + top]}
        if skip + top < len(items):
            body["@odata.nextLink"] = f"{request.scheme}://{request.host}{request.path}?$top={top}&$skip={skip + top}"
        return web.json_response(body)

    async def rooms(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        return self._paged(request, list(self.state.rooms.values()))

    async def room_lists(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        return self._paged(request, list(self.state.room_lists.values()))

    async def list_rooms(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        key = request.match_info["list"].lower()
        if key not in self.state.room_lists:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        ids = self.state.members.get(key, [])
        return self._paged(request, [self.state.rooms[i] for i in ids if i in self.state.rooms])
