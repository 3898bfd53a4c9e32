"""The welcome card, from what it needs to say: whom it greets and in which kind of conversation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.platform.cards import CardRenderer


@dataclass(frozen=True, slots=True)
class Welcome:
    app_name: str
    scope: str  # "personal" | "groupChat" | "team"
    user_name: str | None  # the person who added Courier, when Teams says


def welcome_card(cards: CardRenderer, welcome: Welcome) -> dict[str, Any]:
    return cards.render(
        "welcome", {"app_name": welcome.app_name, "scope": welcome.scope, "user_name": welcome.user_name}
    )
