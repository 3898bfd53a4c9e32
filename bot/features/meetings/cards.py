"""The meeting card, drawn the same way by the commands and by calendar sync."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.meetings.store import CANCELLED, Meeting
from bot.platform.cards import CardRenderer


def span(start: datetime, end: datetime, zone: str) -> str:
    tz = ZoneInfo(zone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{a:%a %b %d, %H:%M}-{b:%H:%M}"


def meeting_card(
    cards: CardRenderer, app: str, meeting: Meeting, zone: str, *, note: str | None = None, color: str = "Accent"
) -> dict[str, Any]:
    cancelled = meeting.status == CANCELLED
    return cards.render(
        "meeting",
        {
            "app_name": app,
            "subject": meeting.subject,
            "status_line": "Cancelled" if cancelled else "Teams meeting · invitations sent",
            "when": f"{span(meeting.start_at, meeting.end_at, zone)} ({zone})",
            "organizer": meeting.organizer_name or "the organizer",
            "attendees": ", ".join(meeting.attendees) or "just you",
            "note": note,
            "note_color": color,
            "join_url": meeting.join_url,
            "cancelled": cancelled,
            "meeting_id": meeting.id,
        },
    )
