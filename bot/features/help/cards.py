"""The help card, from the command groups it lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.features.help.service import CommandGroup
from bot.platform.cards import CardRenderer


def help_card(
    cards: CardRenderer, app_name: str, groups: Sequence[CommandGroup], *, mention_hint: bool
) -> dict[str, Any]:
    """``mention_hint``: outside a personal chat, say that every command starts with an @mention."""
    return cards.render(
        "help",
        {
            "app_name": app_name,
            "groups": [
                {
                    "title": group.title,
                    "commands": [
                        {"name": c.name, "description": c.description, "example": c.example} for c in group.commands
                    ],
                }
                for group in groups
            ],
            "mention_hint": mention_hint,
        },
    )
