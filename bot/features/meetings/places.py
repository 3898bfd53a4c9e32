"""Rooms to book, from Graph places (app-only ``Place.Read.All``): every room, or a room list's, with its capacity,
building and floor. Without Graph or the permission there are no rooms to offer (the caller says so in one line)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.platform.graph.errors import GraphError, PermissionDenied
from bot.platform.i18n import _
from bot.platform.services import IdentityServices

logger = logging.getLogger(__name__)

PERMISSION = "Place.Read.All"
MAX_ROOMS = 20  # locations asked of findMeetingTimes at once


@dataclass(frozen=True, slots=True)
class Place:
    email: str
    name: str
    capacity: int | None
    building: str | None
    floor: str | None

    @property
    def label(self) -> str:
        where = ", ".join(p for p in (self.building, f"floor {self.floor}" if self.floor else None) if p)
        seats = f"{self.capacity} seats" if self.capacity else None
        extra = " · ".join(p for p in (where, seats) if p)
        return f"{self.name} ({extra})" if extra else self.name


class RoomsUnavailable(Exception):
    """Rooms can't be read here; the text says why, for the card."""


async def rooms(identity: IdentityServices | None, tenant_id: str, *, seats: int = 0) -> list[Place]:
    """The rooms with at least ``seats`` seats, smallest first (the best fit first)."""
    if identity is None or identity.graph is None or identity.credential is None:
        raise RoomsUnavailable(_("Courier can't read rooms here (no Graph access)."))
    graph = identity.graph.app(identity.credential, tenant_id)
    found: list[Place] = []
    try:
        async for item in graph.paged("/places/microsoft.graph.room", permission=PERMISSION):
            if not item.get("emailAddress"):
                continue
            capacity = item.get("capacity") if isinstance(item.get("capacity"), int) else None
            if seats and (capacity is None or capacity < seats):
                continue
            floor = item.get("floorLabel") or (str(item["floorNumber"]) if item.get("floorNumber") else None)
            name = str(item.get("displayName") or item["emailAddress"])
            found.append(Place(str(item["emailAddress"]).lower(), name, capacity, item.get("building"), floor))
    except PermissionDenied:
        raise RoomsUnavailable(
            _("Courier may not read rooms yet ({permission}); type permissions.", permission=PERMISSION)
        ) from None
    except GraphError as exc:
        logger.info("listing rooms failed (%s)", exc.status)
        raise RoomsUnavailable(_("Microsoft Graph didn't list the rooms; try again in a minute.")) from None
    return sorted(found, key=lambda p: (p.capacity or 0, p.name))[:MAX_ROOMS]
