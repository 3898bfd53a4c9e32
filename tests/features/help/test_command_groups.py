"""What help lists: the visible commands, grouped as the features declared them, in the order they registered."""

from __future__ import annotations

from bot.features.help.service import CommandGroup, CommandLine, command_groups
from bot.platform.teams.router import CommandRequest, Router


async def _nothing(turn: object, request: CommandRequest) -> None:
    return None


def _router() -> Router:
    router = Router()
    router.command("help", description="Show help", example="help", group="General")(_nothing)
    router.command("remind", description="Set a reminder", example="remind me at 9", group="Reminders")(_nothing)
    router.command("reminders", description="List reminders", example="reminders", group="Reminders")(_nothing)
    router.command("secret", description="Not listed", example="secret", group="General", hidden=True)(_nothing)
    return router


def test_commands_are_grouped_in_the_order_they_registered() -> None:
    assert command_groups(_router().commands()) == (
        CommandGroup("General", (CommandLine("help", "Show help", "help"),)),
        CommandGroup(
            "Reminders",
            (
                CommandLine("remind", "Set a reminder", "remind me at 9"),
                CommandLine("reminders", "List reminders", "reminders"),
            ),
        ),
    )
