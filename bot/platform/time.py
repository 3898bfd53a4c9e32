"""Time for people: whose zone, wall-clock times in a zone across DST, as every feature reads them."""

from __future__ import annotations

from bot.platform.services import Services
from bot.platform.teams.turn import Turn
from bot.platform.zones import localize, valid_zone

__all__ = ["UTC_HINT", "localize", "user_key", "user_zone", "valid_zone"]

UTC_HINT = "Times are in UTC until you set your zone, e.g. timezone Europe/Paris."


def user_key(turn: Turn) -> str:
    """How preferences and reminders know a person: their Entra object id, else their Teams id."""
    return (turn.activity.sender.aad_object_id or turn.activity.sender.id).lower()


async def user_zone(services: Services, turn: Turn) -> tuple[str, str | None]:
    """The person's zone and, when it is only UTC, a hint to set it: their setting (``timezone``), else the
    ``localTimezone`` Teams sends with each activity (remembered for later, e.g. proactive sends), else UTC."""
    store = services.store.people
    tenant = turn.activity.tenant_id or ""
    prefs = await store.preferences(tenant, user_key(turn))
    teams = turn.activity.local_timezone if valid_zone(turn.activity.local_timezone) else None
    if teams and teams != prefs.teams_zone:
        await store.set_preference(tenant, user_key(turn), services.clock(), teams_zone=teams)
    for candidate in (prefs.zone, teams, prefs.teams_zone):
        if valid_zone(candidate):
            return str(candidate), None
    return "UTC", UTC_HINT
