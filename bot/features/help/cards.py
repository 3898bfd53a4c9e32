"""The help card, from the command groups it lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.features.help.service import CommandGroup
from bot.platform.cards import CardRenderer
from bot.platform.i18n import _, pgettext


def help_card(
    cards: CardRenderer, app_name: str, groups: Sequence[CommandGroup], *, mention_hint: bool
) -> dict[str, Any]:
    """``mention_hint``: outside a personal chat, say that every command starts with an @mention. Everything is in
    the person's language: group titles, descriptions, examples and the command words themselves."""
    return cards.render(
        "help",
        {
            "app_name": app_name,
            "groups": [
                {
                    "title": _(group.title),
                    "commands": [
                        {"name": pgettext("command", c.name), "description": _(c.description), "example": _(c.example)}
                        for c in group.commands
                    ],
                }
                for group in groups
            ],
            "mention_hint": mention_hint,
        },
    )
