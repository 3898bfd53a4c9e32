"""Presence for the Graph emulator (``Presence.Read.All``), plugged in with :func:`install_presence` before ``start()``.

- ``POST /communications/getPresencesByUserId`` with ``{"ids": [...]}``: at most 650 ids (400 beyond), answering
  ``{"value": [presence, ...]}`` for the ids Graph knows;
- ``GET /users/{id}/presence``: one person's (or one room account's) presence;
- both count against one limit, 1,500 requests per 30 s per app per tenant (a sliding window): beyond it, 429
  ``TooManyRequests`` with ``Retry-After`` (the seconds until the oldest request leaves the window).

A presence is ``{"id", "availability", "activity", "outOfOfficeSettings"}``; anyone not set is
``PresenceUnknown``. Tests (and the local tenant's controls) set it with :meth:`PresenceState.set`, or over HTTP with
``POST /_control/presence`` ``{"id", "availability", "activity"}`` (no token: a control of the emulator, not Graph).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.sandbox.emulators.graph import GraphEmulator, graph_error

PRESENCE = "Presence.Read.All"
MAX_IDS = 650
LIMIT = 1500
WINDOW_SECONDS = 30.0
AVAILABILITIES = frozenset(
    {"Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle", "DoNotDisturb", "Offline"}
) | {"PresenceUnknown"}


@dataclass
class PresenceState:
    presences: dict[str, dict[str, Any]] = field(default_factory=dict)  # id (lower) -> presence
    limit: int = LIMIT
    window: float = WINDOW_SECONDS
    requests: int = 0  # presence requests answered (200)
    batch_requests: int = 0  # of which getPresencesByUserId
    throttled: int = 0  # presence requests answered 429
    clock: Callable[[], float] = time.monotonic
    _hits: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(
        self,
        user_id: str,
        availability: str,
        activity: str | None = None,
        *,
        out_of_office: str | None = None,
    ) -> None:
        """Someone's (or a room account's) presence from now on; ``out_of_office`` the message of their automatic
        reply (they are out of office when it is given)."""
        if availability not in AVAILABILITIES:
            raise ValueError(f"unknown availability {availability!r}")
        self.presences[user_id.lower()] = {
            "id": user_id,
            "availability": availability,
            "activity": activity or availability,
            "outOfOfficeSettings": {"message": out_of_office, "isOutOfOffice": out_of_office is not None},
        }

    def of(self, user_id: str) -> dict[str, Any]:
        found = self.presences.get(user_id.lower())
        if found is not None:
            return dict(found)
        unknown = {"message": None, "isOutOfOffice": False}
        return {
            "id": user_id,
            "availability": "PresenceUnknown",
            "activity": "PresenceUnknown",
            "outOfOfficeSettings": unknown,
        }

    def admit(self, claims: dict[str, Any]) -> float | None:
        """Count one request of this app in this tenant; the seconds to wait when it is over the limit."""
        key = (str(claims.get("appid") or claims.get("azp") or ""), str(claims.get("tid") or ""))
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                self.throttled += 1
                return max(1.0, math.ceil(self.window - (now - hits[0])))
            hits.append(now)
            self.requests += 1
            return None


def install_presence(graph: GraphEmulator) -> PresenceState:
    state = PresenceState()
    routes = _PresenceRoutes(state)
    graph.route("POST", "/v1.0/communications/getPresencesByUserId", routes.batch, role=PRESENCE)
    graph.route("GET", "/v1.0/users/{id}/presence", routes.one, role=PRESENCE)
    graph.app.router.add_post("/_control/presence", routes.control)
    return state


class _PresenceRoutes:
    def __init__(self, state: PresenceState) -> None:
        self.state = state

    def _throttled(self, claims: dict[str, Any]) -> web.Response | None:
        wait = self.state.admit(claims)
        if wait is None:
            return None
        return graph_error(429, "TooManyRequests", "Too many requests; retry after the time given.", wait)

    async def batch(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return graph_error(400, "BadRequest", "The request body is not JSON.")
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return graph_error(400, "BadRequest", "ids must be a list of user ids.")
        if len(ids) > MAX_IDS:
            return graph_error(400, "BadRequest", f"The number of ids cannot exceed {MAX_IDS}.")
        refused = self._throttled(claims)
        if refused is not None:
            return refused
        self.state.batch_requests += 1
        return web.json_response({"value": [self.state.of(i) for i in ids]})

    async def one(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        refused = self._throttled(claims)
        if refused is not None:
            return refused
        return web.json_response(self.state.of(request.match_info["id"]))

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.state.set(str(body["id"]), str(body["availability"]), body.get("activity"))
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.Response(status=204)
