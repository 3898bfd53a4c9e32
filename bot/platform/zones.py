"""Zones and wall-clock times, without any person attached: which zone names are real, a wall time across DST.

Lives below :mod:`bot.platform.time` (which knows turns and services) so the outbox can use it too.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def valid_zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``zone``; the spring-forward gap moves to its end, the autumn overlap takes the
    first of the two."""
    # fold=0 reads a gap time with the offset from before the jump: 02:30 becomes 03:30 once normalized.
    return wall.replace(tzinfo=zone, fold=0).astimezone(ZoneInfo("UTC")).astimezone(zone)
