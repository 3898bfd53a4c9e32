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

from babel.numbers import format_decimal

from bot.platform import i18n
from bot.platform.cards import CardRenderer
from bot.platform.i18n import N_, _
from bot.platform.time import format_time, valid_zone

if TYPE_CHECKING:
    from bot.features.outreach.service import Progress
    from bot.platform.messaging.ledger import Notification

SHORT_ID = 8  # how much of an id the status card shows, and the least notify status accepts

ACK_VERB = "ack"
NUDGE_VERB = "nudge"
_TITLE_LIMIT = 120
_LABELS = (
    ("sent", N_("Sent")),
    ("acknowledged", N_("Acknowledged")),
    ("queued", N_("Queued")),
    ("claimed", N_("Sending")),
    ("sending", N_("Sending")),
    ("not_installed", N_("Not installed")),
    ("maybe_delivered", N_("Maybe delivered")),
    ("cancelled", N_("Cancelled")),
    ("expanded", N_("Teams and groups expanded")),
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
        "text": _("Reminder: please read and acknowledge"),
        "weight": "Bolder",
        "color": "Attention",
        "wrap": True,
    }
    return {**card, "body": [banner, *card.get("body", [])]}


def _content(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [b for b in card.get("body", []) if isinstance(b, dict)]


def _text_blocks(node: Any) -> list[dict[str, Any]]:
    """Every TextBlock with words, in reading order (inside containers and columns too)."""
    if isinstance(node, list):
        return [block for item in node for block in _text_blocks(item)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "TextBlock":
        text = str(node.get("text") or "")
        return [node] if any(ch.isalnum() for ch in text) else []
    return [block for key in ("items", "columns") for block in _text_blocks(node.get(key))]


def headline(card: Mapping[str, Any]) -> str:
    """What a notification is called: its card's title, the first TextBlock styled as a heading (``style:
    heading``, else a large one, else a bold one), else its first text."""
    blocks = _text_blocks(card.get("body", []))
    for looks_like_title in (_heading, _large, _bold, _any):
        title = next((b for b in blocks if looks_like_title(b)), None)
        if title is not None:
            return str(title["text"])
    return _("Notification")


def _heading(block: Mapping[str, Any]) -> bool:
    return block.get("style") == "heading"


def _large(block: Mapping[str, Any]) -> bool:
    return block.get("size") in ("Large", "ExtraLarge")


def _bold(block: Mapping[str, Any]) -> bool:
    return block.get("weight") == "Bolder" and block.get("size") != "Small"


def _any(block: Mapping[str, Any]) -> bool:
    return True


def local_time(when: datetime, zone: str | None) -> str:
    """``Mar 10, 11:00 (Europe/Paris)`` in the reader's zone, or in UTC when there is none (or an unknown one)."""
    tz = valid_zone(zone)
    local = when.astimezone(tz) if tz else when
    words = i18n.current()
    shown = f"{local:%b %d, %H:%M}" if words.is_english else f"{words.short_date(local)}, {words.clock(local)}"
    return f"{shown} ({zone if tz else 'UTC'})"


def listed(notifications: Sequence[Notification], zone: str) -> str:
    """Lines for ``notify status`` without an id: short id, title, when."""
    return "\n\n".join(
        f"{n.id[:SHORT_ID]} · {headline(n.card)[:60]} · {format_time(n.created_at, zone)}" for n in notifications
    )


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
            counts[key] = value
    words, facts = i18n.current(), []
    for label, value in counts.items():
        shown = words.number(value)
        if label == "Acknowledged" and progress.sent:
            shown += f" ({100 * progress.acknowledged // progress.sent}%)"
        title = _("Failed ({reason})", reason=label.removeprefix("failed:").replace("_", " "))
        facts.append({"title": title if label.startswith("failed:") else _(label), "value": shown})
    return facts


def _audience_facts(progress: Progress) -> list[dict[str, str]]:
    """A local-time notification: who is still waiting for their time; an important one: its activity feed."""
    notification, facts = progress.notification, []
    if notification.local_time:
        day, local = notification.local_time.split("T")
        facts.append(
            {
                "title": _("Waiting for {local} local time", local=local),
                "value": f"{i18n.current().number(progress.waiting_for_local_time or 0)} ({day})",
            }
        )
    if notification.important:
        feed = progress.activity_feed or {}
        failed = sum(n for outcome, n in feed.items() if outcome != "sent")
        words = i18n.current()
        shown = _("{sent} sent, {failed} failed", sent=words.number(feed.get("sent", 0)), failed=words.number(failed))
        facts.append({"title": _("Activity feed"), "value": shown})
    return facts


def _rate(value: float) -> str:
    return format_decimal(round(value, 1), format="#,##0.0", locale=i18n.current().babel_locale)


def status(
    cards: CardRenderer, app_name: str, progress: Progress, note: str | None = None, *, zone: str = "UTC"
) -> dict[str, Any]:
    """Delivery and acknowledgement totals; a Nudge button when it asked for acknowledgements; ``note`` under them
    (what a nudge just did). Its short id is what ``notify status`` takes; times are in ``zone`` (the reader's)."""
    notification = progress.notification
    seconds = progress.sending_seconds
    short = notification.id[:SHORT_ID]
    return cards.render(
        "notification_status",
        {
            "app_name": app_name,
            "title": headline(notification.card)[:_TITLE_LIMIT],
            "subtitle": _(
                "Notification {short} · created {when}", short=short, when=format_time(notification.created_at, zone)
            ),
            "facts": _facts(progress) + _audience_facts(progress),
            "progress": _("Delivered at {rate} messages/s.", rate=_rate(progress.sent / seconds))
            if seconds > 0
            else None,
            "notification_id": notification.id,
            "can_nudge": progress.can_nudge,
            "note": note,
        },
    )
