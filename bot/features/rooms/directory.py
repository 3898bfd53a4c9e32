"""The tenant's rooms and their devices' presence, through the platform's Graph client (app-only).

Rooms come from ``GET /places/microsoft.graph.room`` (``Place.Read.All``), paged. A Teams Rooms device signs in as
the room's resource account, so the account's presence is the device's: ``POST /communications/getPresencesByUserId``
(``Presence.Read.All``) with at most :data:`PRESENCE_BATCH` ids a request, one request per 650 rooms per check. Graph
allows 1,500 presence requests per 30 s per app per tenant; the Graph client's per-tenant pace (30 requests/s at
most) keeps a check of even 30,000 rooms (47 requests) far under it, and a 429 pauses every caller of the tenant for
its Retry-After.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.platform.graph.client import GraphCaller
from bot.platform.services import IdentityServices

PLACES = "Place.Read.All"
PRESENCE = "Presence.Read.All"
PRESENCE_BATCH = 650
OFFLINE = "Offline"


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    email: str
    name: str
    capacity: int | None = None
    building: str | None = None
    floor: str | None = None


def app_graph(identity: IdentityServices | None, tenant_id: str) -> GraphCaller | None:
    """Graph as Courier itself in this tenant; None where Graph or the app credential is off here."""
    if identity is None or identity.graph is None or identity.credential is None:
        return None
    return identity.graph.app(identity.credential, tenant_id)


async def list_rooms(graph: GraphCaller) -> list[Room]:
    rooms: list[Room] = []
    async for item in graph.paged("/places/microsoft.graph.room", permission=PLACES):
        if not item.get("id") or not item.get("emailAddress"):
            continue
        rooms.append(
            Room(
                id=str(item["id"]),
                email=str(item["emailAddress"]).lower(),
                name=str(item.get("displayName") or item["emailAddress"]),
                capacity=item.get("capacity") if isinstance(item.get("capacity"), int) else None,
                building=item.get("building") or None,
                floor=item.get("floorLabel") or (str(item["floorNumber"]) if item.get("floorNumber") else None),
            )
        )
    return rooms


async def presences(graph: GraphCaller, ids: Sequence[str]) -> dict[str, str]:
    """Each id's availability (``Available``, ``Offline``, ``PresenceUnknown``, ...), 650 ids a request."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), PRESENCE_BATCH):
        chunk = list(ids[start : start + PRESENCE_BATCH])
        answer = await graph.post("/communications/getPresencesByUserId", {"ids": chunk}, permission=PRESENCE)
        for item in answer.get("value", []) if isinstance(answer, dict) else []:
            if isinstance(item, dict) and item.get("id"):
                found[str(item["id"]).lower()] = str(item.get("availability") or "PresenceUnknown")
    return found
