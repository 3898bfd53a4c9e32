"""What the meetings' cards send back, read into typed values (or the problem to show on the form again)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.meetings.calendar import RoomRef
from bot.features.meetings.service import MAX_ATTENDEES
from bot.platform.i18n import _
from bot.platform.time import localize

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True, slots=True)
class MeetingForm:
    """The "Schedule a meeting" form: an exact start when a time was given, else a day to find a free time in."""

    subject: str
    emails: tuple[str, ...]
    day: date
    at: time | None
    minutes: int
    values: dict[str, str]  # as typed, to show the form again
    room: str | None = None  # the picked room's address

    def start(self, zone: str) -> datetime | None:
        return localize(datetime.combine(self.day, self.at), ZoneInfo(zone)) if self.at is not None else None


@dataclass(frozen=True, slots=True)
class FormProblem:
    values: dict[str, str]
    problem: str


@dataclass(frozen=True, slots=True)
class Choice:
    """One of the free times offered (a ``meeting.pick`` button)."""

    proposal: str
    subject: str
    start: datetime
    minutes: int
    emails: tuple[str, ...]
    room: RoomRef | None = None


@dataclass(frozen=True, slots=True)
class Prefill:
    """What the "Schedule a meeting" message action starts from: the message's text and whom it mentions."""

    subject: str
    member_ids: tuple[str, ...]


def form_values(data: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int) and k != "verb"}


def parse_form(data: Mapping[str, Any]) -> MeetingForm | FormProblem:
    values = form_values(data)
    subject = values.get("subject", "").strip()[:255]
    emails = [e.strip().lower() for e in values.get("attendees", "").replace(";", ",").split(",") if e.strip()]
    bad = [e for e in emails if not EMAIL.fullmatch(e)]
    try:
        day = date.fromisoformat(values.get("date", ""))
        minutes = int(values.get("minutes", "30"))
    except ValueError:
        return FormProblem(values, _("Pick a date."))
    if not subject:
        return FormProblem(values, _("A subject is required."))
    if bad:
        return FormProblem(values, _("These are not email addresses: {items}.", items=", ".join(bad)))
    try:
        at = time.fromisoformat(values["time"]) if values.get("time") else None
    except ValueError:
        return FormProblem(values, _("Pick a start time, or leave it empty to find a free time."))
    room = values.get("room", "").strip().lower()
    return MeetingForm(subject, tuple(emails), day, at, minutes, values, room if EMAIL.fullmatch(room) else None)


def parse_choice(data: Mapping[str, Any]) -> Choice | None:
    """The picked time, or None when the button's data is not one Courier drew."""
    try:
        return Choice(
            proposal=str(data["proposal"]),
            subject=str(data["subject"])[:255],
            start=datetime.fromisoformat(str(data["start"])),
            minutes=int(data["minutes"]),
            emails=tuple(str(e) for e in data.get("attendees", []))[:MAX_ATTENDEES],
            room=_room(data),
        )
    except (KeyError, ValueError, TypeError):
        return None


def _room(data: Mapping[str, Any]) -> RoomRef | None:
    email = data.get("room")
    if not isinstance(email, str) or not EMAIL.fullmatch(email):
        return None
    return RoomRef(email.lower(), str(data.get("roomName") or email)[:255])


def parse_move(data: Mapping[str, Any], zone: str) -> tuple[datetime, int] | None:
    """The new start (in the person's zone) and length from the move form; None without a date and a time."""
    try:
        day, at = date.fromisoformat(str(data["date"])), time.fromisoformat(str(data["time"]))
        return localize(datetime.combine(day, at), ZoneInfo(zone)), int(str(data.get("minutes", "30")))
    except (KeyError, ValueError):
        return None


def meeting_id(data: Mapping[str, Any]) -> str:
    return str(data.get("meeting", ""))


def prefill(value: Mapping[str, Any]) -> Prefill:
    """From a message action's ``messagePayload``: its text without markup, and the people it mentions."""
    raw = value.get("messagePayload")
    payload: dict[str, Any] = raw if isinstance(raw, dict) else {}
    body = payload.get("body") if isinstance(payload.get("body"), dict) else {}
    text = html.unescape(re.sub(r"<[^>]+>", " ", str((body or {}).get("content") or "")))
    ids: list[str] = []
    for mention in payload.get("mentions") or []:
        user = ((mention or {}).get("mentioned") or {}).get("user") or {}
        if user.get("id"):
            ids.append(str(user["id"]))
    return Prefill(re.sub(r"\s+", " ", text).strip()[:120], tuple(ids))
