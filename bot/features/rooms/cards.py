"""The rooms' cards (the alert, the same card when the room is back, the daily summary, the status), from typed data.
User-facing words are plain English literals, gathered here for translation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.features.rooms.store import Alert, RoomNow
from bot.platform.cards import CardRenderer

MAX_STATUS_LINES = 60

OFFLINE_TITLE = "Room offline: {room}"
OFFLINE_SUBTITLE = "Its Teams Rooms device has been offline for {length}"
OFFLINE_NOTE = "This card is updated when the room is back."
BACK_TITLE = "Room back online: {room}"
BACK_SUBTITLE = "Offline for {length}"
SUMMARY_TITLE = "Room outages in the last 24 hours"
SUMMARY_SUBTITLE = "{count} outage(s)"
STILL_OFFLINE = "still offline (since {since})"
WAS_OFFLINE = "{length} (from {since})"
STATUS_TITLE = "Rooms now"
STATUS_SUBTITLE = "{offline} offline of {total}"
MORE_ROOMS = "and {count} more rooms, not offline"
NO_ROOMS = "Graph lists no rooms in this organization."


def outage(start: datetime, end: datetime) -> str:
    """An outage's length in words: "7 min", "2 h 5 min"."""
    minutes = max(1, round((end - start).total_seconds() / 60))
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{minutes} min"


def _when(moment: datetime) -> str:
    return f"{moment:%a %b %d, %H:%M} UTC"


class RoomCards:
    def __init__(self, cards: CardRenderer, app_name: str) -> None:
        self._cards = cards
        self._app = app_name

    def _render(
        self, title: str, subtitle: str, facts: Sequence[tuple[str, str]], note: str | None = None, color: str = ""
    ) -> dict[str, Any]:
        return self._cards.render(
            "rooms",
            {
                "app_name": self._app,
                "title": title,
                "subtitle": subtitle,
                "facts": [{"title": t, "value": v} for t, v in facts],
                "note": note,
                "note_color": color or "Default",
            },
        )

    def offline(self, alert: Alert, now: datetime) -> dict[str, Any]:
        length = outage(alert.offline_since, now)
        facts = [("Room", alert.room_name), ("Offline since", _when(alert.offline_since))]
        title = OFFLINE_TITLE.format(room=alert.room_name)
        return self._render(title, OFFLINE_SUBTITLE.format(length=length), facts, OFFLINE_NOTE, "Attention")

    def back(self, alert: Alert, now: datetime, length: str) -> dict[str, Any]:
        facts = [("Room", alert.room_name), ("Offline since", _when(alert.offline_since)), ("Back at", _when(now))]
        return self._render(BACK_TITLE.format(room=alert.room_name), BACK_SUBTITLE.format(length=length), facts)

    def summary(self, alerts: Sequence[Alert], now: datetime) -> dict[str, Any]:
        facts = []
        for alert in alerts:
            since = _when(alert.offline_since)
            if alert.back_at is None:
                facts.append((alert.room_name, STILL_OFFLINE.format(since=since)))
            else:
                length = outage(alert.offline_since, alert.back_at)
                facts.append((alert.room_name, WAS_OFFLINE.format(length=length, since=since)))
        return self._render(SUMMARY_TITLE, SUMMARY_SUBTITLE.format(count=len(alerts)), facts)

    def status(self, rooms: Sequence[RoomNow]) -> dict[str, Any]:
        offline = sum(1 for r in rooms if r.availability == "Offline")
        facts = [(r.name, r.availability) for r in rooms[:MAX_STATUS_LINES]]
        note = MORE_ROOMS.format(count=len(rooms) - MAX_STATUS_LINES) if len(rooms) > MAX_STATUS_LINES else None
        if not rooms:
            note = NO_ROOMS
        return self._render(STATUS_TITLE, STATUS_SUBTITLE.format(offline=offline, total=len(rooms)), facts, note)
