"""Time for people: whose zone, wall-clock times in a zone across DST, as every feature reads them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.platform import i18n
from bot.platform.i18n import N_, _
from bot.platform.services import Services
from bot.platform.teams.turn import Turn
from bot.platform.zones import localize, valid_zone

__all__ = ["UTC_HINT", "format_time", "localize", "user_key", "user_zone", "valid_zone"]

UTC_HINT = N_("Times are in UTC until you set your zone, e.g. timezone Europe/Paris.")


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
    return "UTC", _(UTC_HINT)


def format_time(
    when: datetime,
    zone: str,
    *,
    now: datetime | None = None,
    label: bool = True,
    other: tuple[str, str] | None = None,
) -> str:
    """The one way a time is shown to a person: in ``zone`` (theirs), with the zone's name.

    In the current language (:mod:`bot.platform.i18n`): ``heute 14:30 (Europe/Paris)`` in German.
    ``today 14:30 (Europe/Paris)`` when it is today there (given ``now``), else ``Tue Mar 10, 14:30 (Europe/Paris)``;
    ``label=False`` leaves the name out where the card says it once (a list's "Times in Europe/Paris"). ``other``,
    (whose, their zone), adds that person's own time when their zone differs: a reminder set for Ana in Tokyo says
    ``today 11:20 (Europe/Paris; 19:20 for Ana, Asia/Tokyo)``."""
    tz = valid_zone(zone) or ZoneInfo("UTC")
    words = i18n.current()
    local = when.astimezone(tz)
    today = now is not None and local.date() == now.astimezone(tz).date()
    text = words.gettext("today {time}", time=words.clock(local)) if today else words.day_and_time(local)
    if not label:
        return text
    extra = ""
    if other is not None and other[1] != tz.key and valid_zone(other[1]):
        theirs = when.astimezone(ZoneInfo(other[1]))
        same_day = theirs.date() == local.date()
        shown = words.clock(theirs) if same_day else words.weekday_and_time(theirs)
        extra = "; " + words.gettext("{time} for {name}, {zone}", time=shown, name=other[0], zone=other[1])
    return f"{text} ({tz.key}{extra})"
