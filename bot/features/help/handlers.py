"""``help``: every command with an example, as a card; the card actions that lead to it.

An unknown command is answered by the platform (the ``unknown_command`` card); its "did you mean" button comes back
here as ``run_command``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.features.help.cards import help_card
from bot.features.help.service import command_groups
from bot.platform.i18n import N_, _
from bot.platform.services import Services
from bot.platform.teams.router import CommandRequest, Router
from bot.platform.teams.turn import Message
from bot.platform.turns.context import Context, Routes


@dataclass(frozen=True, slots=True)
class HelpDeps:
    commands: Router  # the whole app's commands: listed by help, matched by run_command


def register(router: Router, services: Services) -> None:
    routes = Routes(router, services, HelpDeps(commands=router))
    routes.command(
        "help",
        description=N_("Show what I can do, with an example of each command"),
        example=N_("help"),
        group=N_("General"),
        aliases=("?", "commands"),
    )(show_help)
    routes.action("help")(help_clicked)
    routes.action("run_command")(run_suggested)


def card(ctx: Context[HelpDeps]) -> dict[str, Any]:
    groups = command_groups(ctx.deps.commands.commands())
    return help_card(
        ctx.services.cards, ctx.services.settings.app_name, groups, mention_hint=not ctx.activity.is_personal
    )


async def show_help(ctx: Context[HelpDeps], request: CommandRequest) -> None:
    await ctx.reply(Message(text=_("Here is what I can do."), card=card(ctx)))


async def help_clicked(ctx: Context[HelpDeps], data: Mapping[str, Any]) -> dict[str, Any] | None:
    return card(ctx)


async def run_suggested(ctx: Context[HelpDeps], data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The "did you mean" button: run the suggested command as if it was typed (else show help)."""
    command = data.get("command")
    matched = ctx.deps.commands.match(command) if isinstance(command, str) else None
    if matched is None:
        return card(ctx)
    spec, request = matched
    await spec.handler(ctx.turn, request)
    return None
