"""``help``: every command with an example, as a card; the card actions that lead to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.platform.services import Services
from bot.platform.teams.router import CommandRequest, Router
from bot.platform.teams.turn import Message, Turn


def help_card(services: Services, router: Router, turn: Turn) -> dict[str, Any]:
    groups: dict[str, list[dict[str, str]]] = {}
    for spec in router.commands():
        groups.setdefault(spec.group, []).append(
            {"name": spec.name, "description": spec.description, "example": spec.example}
        )
    return services.cards.render(
        "help",
        {
            "app_name": services.settings.app_name,
            "groups": [{"title": title, "commands": commands} for title, commands in groups.items()],
            "mention_hint": not turn.activity.is_personal,
        },
    )


def register(router: Router, services: Services) -> None:
    @router.command(
        "help",
        description="Show what I can do, with an example of each command",
        example="help",
        group="General",
        aliases=("?", "commands"),
    )
    async def show_help(turn: Turn, request: CommandRequest) -> None:
        await turn.reply(Message(text="Here is what I can do.", card=help_card(services, router, turn)))

    @router.action("help")
    async def help_clicked(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        return help_card(services, router, turn)

    @router.action("run_command")
    async def run_suggested(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """The "did you mean" button: run the suggested command as if it was typed."""
        command = data.get("command")
        matched = router.match(command) if isinstance(command, str) else None
        if matched is None:
            return help_card(services, router, turn)
        spec, request = matched
        await spec.handler(turn, request)
        return None
