"""What handlers need, bundled once at start-up by ``app.py`` and passed to each feature's ``register``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.cards import CardRenderer
from bot.identity.services import IdentityServices
from bot.proactive import Proactive
from bot.settings import Settings
from bot.storage.base import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


def _nothing() -> None:
    return None


async def _nothing_async(_: Any) -> None:
    return None


async def _no_backfill(tenant: str, team: str, channel: str) -> bool:
    return False


async def _no_roster(service_url: str, conversation_id: str, member_id: str | None) -> list[dict[str, Any]]:
    return []


@dataclass(slots=True)
class Signals:
    """Hooks background workers register once running, so handlers can nudge them (e.g. a new reminder)."""

    reminders_changed: Callable[[], None] = _nothing
    # (service URL, conversation, member id or None for everyone) -> members with email / userPrincipalName.
    roster: Callable[[str, str, str | None], Awaitable[list[dict[str, Any]]]] = _no_roster
    # A meeting was created for this organizer (UserRef): subscribe to their calendar changes.
    meeting_created: Callable[[Any], Awaitable[None]] = _nothing_async
    # Someone finished signing in (SignedIn): features may pick up what they were asked before.
    signed_in: Callable[[Any], Awaitable[None]] = _nothing_async
    # (tenant, team, channel): start or resume reading a channel's history; False when it cannot (no Graph).
    backfill: Callable[[str, str, str], Awaitable[bool]] = _no_backfill
    # Card makers for scheduled posts that are not plain reminders, by kind (the reminder scheduler asks here).
    scheduled_cards: dict[str, Callable[[Any], Awaitable[dict[str, Any]]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    cards: CardRenderer
    clock: Callable[[], datetime] = field(default=utc_now)
    proactive: Proactive | None = None
    identity: IdentityServices | None = None
    signals: Signals = field(default_factory=Signals)

    def notice(self, title: str, text: str) -> dict[str, Any]:
        """The small titled card every feature answers with (confirmations, refusals, problems)."""
        return self.cards.render("notice", {"app_name": self.settings.app_name, "title": title, "text": text})
