""" "9:00 wherever you are": each recipient's due time for a notification sent at a wall-clock time in their zone.

A recipient's zone is the one they set (``timezone``), else the one Teams last sent with their messages (both in the
people store), else the deployment's default (``COURIER_DEFAULT_TIME_ZONE``, UTC unless set). A person is known by
their Entra object id: a ``userId`` recipient, or the user of a stored 1:1 conversation. Channels, UPNs not yet
looked up and anyone Courier has never talked to get the default zone. Teams, groups and "everyone" get their
members' times when they are expanded, and are themselves expanded by the time the day's first zone reaches the
wall-clock time. DST is handled by :func:`bot.platform.zones.localize` (a time in the spring-forward gap moves to
its end; in the autumn overlap the first one counts). A due time already past is due at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.platform.storage.base import Store
from bot.platform.zones import localize, valid_zone

# The earliest zone on Earth is UTC+14: a wall-clock time happens there first.
EARLIEST_OFFSET = timedelta(hours=14)
# Teams, groups and "everyone" are expanded this long before the first zone's time, so their members are queued in
# time even when the roster is large.
EXPANSION_MARGIN = timedelta(hours=1)
WALL_FORMAT = "%Y-%m-%dT%H:%M"


def wall_text(wall: datetime) -> str:
    return wall.strftime(WALL_FORMAT)


def parse_wall(text: str) -> datetime:
    return datetime.strptime(text, WALL_FORMAT)  # a wall-clock time, in no zone by design


def first_moment(wall: datetime) -> datetime:
    """When ``wall`` first happens anywhere (in UTC+14)."""
    return wall.replace(tzinfo=UTC) - EARLIEST_OFFSET


class LocalDue:
    def __init__(self, store: Store, default_zone: str = "UTC") -> None:
        self._store = store
        self._default = valid_zone(default_zone) or valid_zone("UTC")

    def in_zone(self, wall: datetime, zone_name: str | None) -> datetime:
        """``wall`` in the named zone (the default zone when the name is unknown), as a UTC instant."""
        zone = valid_zone(zone_name) or self._default
        assert zone is not None
        return localize(wall, zone).astimezone(UTC)

    async def due_times(
        self, tenant_id: str, wall: datetime, recipients: Sequence[tuple[str, dict[str, Any]]]
    ) -> dict[str, datetime]:
        """Each recipient's (by key) due time for ``wall`` in their zone."""
        users: dict[str, str] = {}  # recipient key -> user id
        for key, recipient in recipients:
            if "userId" in recipient:
                users[key] = str(recipient["userId"]).lower()
            elif "conversationId" in recipient:
                record = await self._store.get_conversation(str(recipient["conversationId"]))
                if record is not None and record.user_aad_object_id:
                    users[key] = record.user_aad_object_id.lower()
        zones = await self._store.people.zones(tenant_id, list(set(users.values()))) if users else {}
        due: dict[str, datetime] = {}
        early = first_moment(wall) - EXPANSION_MARGIN
        for key, recipient in recipients:
            if any(kind in recipient for kind in ("team", "groupId", "everyone")):
                due[key] = early
            else:
                user = users.get(key)
                due[key] = self.in_zone(wall, zones.get(user) if user else None)
        return due
