"""What ``help`` lists: every visible command, grouped as the features declared them, in registration order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.platform.teams.router import CommandSpec


@dataclass(frozen=True, slots=True)
class CommandLine:
    name: str
    description: str
    example: str


@dataclass(frozen=True, slots=True)
class CommandGroup:
    title: str
    commands: tuple[CommandLine, ...]


def command_groups(specs: Iterable[CommandSpec]) -> tuple[CommandGroup, ...]:
    groups: dict[str, list[CommandLine]] = {}
    for spec in specs:
        groups.setdefault(spec.group, []).append(CommandLine(spec.name, spec.description, spec.example))
    return tuple(CommandGroup(title, tuple(lines)) for title, lines in groups.items())
