"""The meetings' cards, drawn from typed data the same way by the handlers and by calendar sync."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.meetings.places import Place
from bot.features.meetings.service import Proposal
from bot.features.meetings.store import CANCELLED, Meeting
from bot.platform import i18n
from bot.platform.cards import CardRenderer
from bot.platform.i18n import N_, _

ACCENT = "Accent"
PROMPT = N_("Everyone is free at these times. Pick one and I'll send the invitation with a Teams link:")
ROOM_ANSWERS = {
    "accepted": N_("accepted"),
    "declined": N_("declined: pick another time or room"),
    "none": N_("no answer yet"),
}
ATTENTION = "Attention"


def span(start: datetime, end: datetime, zone: str) -> str:
    tz = ZoneInfo(zone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    words = i18n.current()
    return f"{words.day_and_time(a)}-{words.clock(b)}"


def upcoming_text(meetings: Sequence[Meeting], zone: str) -> str:
    lines = [f"{span(m.start_at, m.end_at, zone)} · {m.subject}" for m in meetings]
    return "\n\n".join(lines) + "\n\n" + _("Times in {zone}.", zone=zone)


class MeetingCards:
    def __init__(self, cards: CardRenderer, app_name: str) -> None:
        self._cards = cards
        self._app = app_name

    def meeting(self, meeting: Meeting, zone: str, *, note: str | None = None, color: str = ACCENT) -> dict[str, Any]:
        """The meeting as it stands; a cancelled one has no buttons."""
        cancelled = meeting.status == CANCELLED
        return self._cards.render(
            "meeting",
            {
                "app_name": self._app,
                "subject": meeting.subject,
                "status_line": _("Cancelled") if cancelled else _("Teams meeting · invitations sent"),
                "when": f"{span(meeting.start_at, meeting.end_at, zone)} ({zone})",
                "organizer": meeting.organizer_name or _("the organizer"),
                "attendees": ", ".join(meeting.attendees) or _("just you"),
                "note": note,
                "note_color": color,
                "join_url": meeting.join_url,
                "cancelled": cancelled,
                "meeting_id": meeting.id,
                "room": _room_line(meeting),
            },
        )

    def options(self, proposal: Proposal, zone: str, prompt: str | None = None) -> dict[str, Any]:
        """The free times as buttons (with the room free then, when one is booked); each carries the proposal's
        id, so picking twice creates one event."""
        options = []
        for slot in proposal.slots:
            data: dict[str, Any] = {
                "proposal": proposal.id,
                "subject": proposal.subject,
                "start": slot.start.isoformat(),
                "minutes": proposal.minutes,
                "attendees": list(proposal.emails),
            }
            label = span(slot.start, slot.end, zone)
            if slot.room is not None:
                data.update(room=slot.room.email, roomName=slot.room.name)
                label = f"{label} · {slot.room.name}"
            options.append({"label": label, "data": data})
        who = ", ".join(proposal.emails) or _("just you")
        return self._cards.render(
            "meeting_options",
            {
                "app_name": self._app,
                "subject": proposal.subject,
                "subtitle": _(
                    "{minutes} min with {who} · times in {zone}", minutes=proposal.minutes, who=who, zone=zone
                ),
                "prompt": prompt or _(PROMPT),
                "options": options,
            },
        )

    def new_form(
        self,
        zone: str,
        values: Mapping[str, str],
        problem: str | None = None,
        *,
        dialog: bool = False,
        rooms: Sequence[Place] = (),
    ) -> dict[str, Any]:
        """The "Schedule a meeting" form, with what was typed and, when it was sent back, why. In a dialog (the
        message action) it submits with Action.Submit; in a chat with Action.Execute."""
        return self._cards.render(
            "meeting_new",
            {
                "app_name": self._app,
                "subtitle": _("Times in {zone}", zone=zone),
                "problem": problem,
                "values": dict(values),
                "dialog": dialog,
                "rooms": [{"email": r.email, "label": r.label} for r in rooms],
            },
        )

    def move_form(self, meeting: Meeting, zone: str) -> dict[str, Any]:
        local = meeting.start_at.astimezone(ZoneInfo(zone))
        minutes = int((meeting.end_at - meeting.start_at).total_seconds() // 60)
        return self._cards.render(
            "meeting_form",
            {
                "app_name": self._app,
                "title": _("Move {subject}", subject=meeting.subject),
                "subtitle": _("Times in {zone}; attendees get the update", zone=zone),
                "problem": None,
                "values": {"date": local.date().isoformat(), "time": f"{local:%H:%M}", "minutes": str(minutes)},
                "button": _("Move it"),
                "verb": "meeting.move",
                "hidden": {"meeting": meeting.id},
            },
        )

    def resume(self, asked: str) -> dict[str, Any]:
        """After sign-in: one click finishes the request kept while signing in."""
        return self._cards.render(
            "meeting_resume", {"app_name": self._app, "asked": _("You asked: {asked}", asked=asked[:200])}
        )


def _room_line(meeting: Meeting) -> str | None:
    if not meeting.room_email:
        return None
    answer = meeting.room_response or "none"
    said = _(ROOM_ANSWERS[answer]) if answer in ROOM_ANSWERS else answer
    return _("{room} ({answer})", room=meeting.room_name or meeting.room_email, answer=said)
