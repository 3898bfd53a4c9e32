"""People's preferences: their time zone (set, and the one Teams last sent), quiet hours and language.

Every feature that speaks of time to a person reads them here, so a zone set once holds everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.platform.storage.base import Database
from bot.platform.storage.times import to_db_time
from bot.platform.zones import valid_zone


@dataclass(frozen=True, slots=True)
class Preferences:
    zone: str | None = None  # set with the timezone command
    teams_zone: str | None = None  # the localTimezone Teams last sent
    quiet_start: str | None = None  # "20:00"
    quiet_end: str | None = None  # "08:00"
    locale: str | None = None  # the locale Teams last sent ("de-DE"), the language of proactive sends


class PeopleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def preferences(self, tenant_id: str, user_id: str) -> Preferences:
        row = await self._db.fetchrow(
            "SELECT * FROM user_prefs WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
        )
        if row is None:
            return Preferences()
        return Preferences(row["zone"], row["teams_zone"], row["quiet_start"], row["quiet_end"], row["locale"])

    async def set_preference(self, tenant_id: str, user_id: str, now: datetime, **values: str | None) -> None:
        allowed = {"zone", "teams_zone", "quiet_start", "quiet_end", "locale"}
        if not values or set(values) - allowed:
            raise ValueError(f"unknown preference: {sorted(set(values) - allowed)}")
        names = sorted(values)
        columns = ", ".join(names)
        marks = ", ".join(f"${n}" for n in range(4, len(names) + 4))
        updates = ", ".join(f"{name} = excluded.{name}" for name in names)
        await self._db.execute(
            f"INSERT INTO user_prefs (tenant_id, user_id, updated_at, {columns}) VALUES ($1, $2, $3, {marks}) "
            f"ON CONFLICT (tenant_id, user_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
            tenant_id,
            user_id,
            to_db_time(now),
            *[values[n] for n in names],
        )

    async def zones(self, tenant_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """The zone each of ``user_ids`` lives in, as far as Courier knows: the one they set, else the one Teams last
        sent. People without either (or with a zone name this system does not know) are left out."""
        found: dict[str, str] = {}
        unique = sorted(set(user_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join(f"${n}" for n in range(2, len(chunk) + 2))
            rows = await self._db.fetch(
                f"SELECT user_id, zone, teams_zone FROM user_prefs WHERE tenant_id = $1 AND user_id IN ({marks})",
                tenant_id,
                *chunk,
            )
            for row in rows:
                zone = next((z for z in (row["zone"], row["teams_zone"]) if valid_zone(z)), None)
                if zone is not None:
                    found[row["user_id"]] = str(zone)
        return found

    async def locale(self, tenant_id: str, user_id: str) -> str | None:
        """The locale Teams last sent for this person (None: never seen; proactive sends then speak English)."""
        return (await self.preferences(tenant_id, user_id)).locale
