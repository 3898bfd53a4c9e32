"""Outreach's cards, from typed data: announcements, the compose form, the acknowledged card, the status card.

A notification's card is its content (an API caller's own card, or one of ours): the Acknowledge button, the
nudge's reminder banner and the acknowledged card are built around that content, never by reading back a card of
ours that was rendered with other data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.platform.cards import CardRenderer
from bot.platform.time import valid_zone

if TYPE_CHECKING:
    from bot.features.outreach.service import Progress

ACK_VERB = "ack"
NUDGE_VERB = "nudge"
_TITLE_LIMIT = 120
_LABELS = (
    ("sent", "Sent"),
    ("acknowledged", "Acknowledged"),
    ("queued", "Queued"),
    ("claimed", "Sending"),
    ("sending", "Sending"),
    ("not_installed", "Not installed"),
    ("maybe_delivered", "Maybe delivered"),
    ("cancelled", "Cancelled"),
    ("expanded", "Teams and groups expanded"),
)


@dataclass(frozen=True, slots=True)
class Announcement:
    sender: str
    title: str
    text: str
    link: str | None = None
    acknowledge: str | None = None  # the notification id its Acknowledge button answers, if it asks for one


@dataclass(frozen=True, slots=True)
class Audience:
    title: str
    value: str


def announcement(cards: CardRenderer, item: Announcement) -> dict[str, Any]:
    return cards.render(
        "announcement",
        {
            "sender": item.sender,
            "title": item.title,
            "text": item.text,
            "link": item.link or None,
            "acknowledge": item.acknowledge,
        },
    )


def with_acknowledge(card: dict[str, Any], notification_id: str) -> dict[str, Any]:
    """An API caller's own card plus an Acknowledge button (our templates render theirs themselves); the click is
    attributed to whoever clicks (``from.aadObjectId``), never to what the card says."""
    action = {
        "type": "Action.Execute",
        "title": "Acknowledge",
        "verb": ACK_VERB,
        "style": "positive",
        "data": {"verb": ACK_VERB, "notification": notification_id},
    }
    return {**card, "actions": [*card.get("actions", []), action]}


def reminder_of(card: dict[str, Any]) -> dict[str, Any]:
    """A nudge's card: the original under a "Reminder" banner; its Acknowledge button still points at the original."""
    banner = {
        "type": "TextBlock",
        "text": "Reminder: please read and acknowledge",
        "weight": "Bolder",
        "color": "Attention",
        "wrap": True,
    }
    return {**card, "body": [banner, *card.get("body", [])]}


def _content(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [b for b in card.get("body", []) if isinstance(b, dict)]


def headline(card: Mapping[str, Any]) -> str:
    """What a notification is called: the first text of its card."""
    return next((str(b["text"]) for b in _content(card) if b.get("text")), "Notification")


def local_time(when: datetime, zone: str | None) -> str:
    """``Mar 10, 11:00 (Europe/Paris)`` in the clicker's zone, or in UTC when Teams sent none (or an unknown one)."""
    tz = valid_zone(zone)
    local = when.astimezone(tz) if tz else when
    return f"{local:%b %d, %H:%M} ({zone if tz else 'UTC'})"


def acknowledged(cards: CardRenderer, original: Mapping[str, Any], when: str) -> dict[str, Any]:
    """The notification's content with "Acknowledged at ..." under it, in place of the card that was clicked."""
    return cards.render("acknowledged", {"original_body": _content(original), "when": when})


def withdrawn(cards: CardRenderer, sender: str | None, when: str) -> dict[str, Any]:
    """What a recalled copy becomes with ``{"mode": "replace"}``: a short notice, nothing of the content."""
    return cards.render("withdrawn", {"sender": sender or "Courier", "when": when})


def announcement_form(
    cards: CardRenderer,
    app_name: str,
    values: Mapping[str, str],
    audiences: Sequence[Audience],
    error: str | None = None,
) -> dict[str, Any]:
    return cards.render(
        "announcement_form",
        {
            "app_name": app_name,
            "error": error,
            "values": values,
            "audiences": [{"title": a.title, "value": a.value} for a in audiences],
        },
    )


def _facts(progress: Progress) -> list[dict[str, str]]:
    ack_required = progress.notification.ack_required
    counts: dict[str, int] = {}
    for key, label in _LABELS:
        if key == "acknowledged" and not ack_required:
            continue
        if progress.totals.get(key) or key in ("sent", "acknowledged"):
            counts[label] = counts.get(label, 0) + progress.totals.get(key, 0)
    for key, value in sorted(progress.totals.items()):
        if key.startswith("failed:"):
            counts[f"Failed ({key.removeprefix('failed:').replace('_', ' ')})"] = value
    facts = []
    for label, value in counts.items():
        shown = f"{value:,}"
        if label == "Acknowledged" and progress.sent:
            shown += f" ({100 * progress.acknowledged // progress.sent}%)"
        facts.append({"title": label, "value": shown})
    return facts


def status(cards: CardRenderer, app_name: str, progress: Progress, note: str | None = None) -> dict[str, Any]:
    """Delivery and acknowledgement totals; a Nudge button when it asked for acknowledgements; ``note`` under them
    (what a nudge just did)."""
    notification = progress.notification
    seconds = progress.sending_seconds
    return cards.render(
        "notification_status",
        {
            "app_name": app_name,
            "title": headline(notification.card)[:_TITLE_LIMIT],
            "subtitle": f"Notification {notification.id[:8]} · created {notification.created_at:%Y-%m-%d %H:%M} UTC",
            "facts": _facts(progress),
            "progress": f"Delivered at {progress.sent / seconds:.1f} messages/s." if seconds > 0 else None,
            "notification_id": notification.id,
            "can_nudge": progress.can_nudge,
            "note": note,
        },
    )
