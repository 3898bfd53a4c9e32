"""The route table: declarative registration, longest-prefix matching, suggestions."""

from collections.abc import Mapping
from typing import Any

import pytest

from bot.platform.teams.router import CommandRequest, DuplicateRoute, Router
from bot.platform.teams.turn import Turn


async def _noop(turn: Turn, request: CommandRequest) -> None:
    return None


def _router(*names: str) -> Router:
    router = Router()
    for name in names:
        router.command(name, description=f"{name} things", example=name)(_noop)
    return router


def test_commands_match_case_insensitively() -> None:
    matched = _router("help").match("HeLp")
    assert matched is not None
    assert matched[0].name == "help"


def test_longest_command_wins_and_args_keep_their_case() -> None:
    matched = _router("notify", "notify status").match("Notify STATUS Abc-123")
    assert matched is not None
    spec, request = matched
    assert spec.name == "notify status"
    assert request.args == "Abc-123"


def test_aliases_resolve_to_the_canonical_name() -> None:
    router = Router()
    router.command("help", description="d", example="help", aliases=("?",))(_noop)
    matched = router.match("?")
    assert matched is not None
    assert matched[1].name == "help"


def test_unknown_text_does_not_match() -> None:
    assert _router("help").match("dance") is None


def test_suggestion_for_a_typo() -> None:
    assert _router("help", "reminders", "timezone").suggest("remindrs") == "reminders"


def test_suggestion_for_a_typo_with_arguments() -> None:
    assert _router("help", "timezone").suggest("timzone Europe/Paris") == "timezone"


def test_no_suggestion_for_nonsense() -> None:
    assert _router("help", "reminders").suggest("xyzzy") is None


def test_registering_a_command_twice_is_refused() -> None:
    router = _router("help")
    with pytest.raises(DuplicateRoute):
        router.command("HELP", description="d", example="help")(_noop)


def test_registering_a_verb_twice_is_refused() -> None:
    router = Router()

    async def handler(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        return None

    router.action("ack")(handler)
    with pytest.raises(DuplicateRoute):
        router.action("ack")(handler)


def test_hidden_commands_are_not_listed() -> None:
    router = Router()
    router.command("debug", description="d", example="debug", hidden=True)(_noop)
    router.command("help", description="d", example="help")(_noop)
    assert [c.name for c in router.commands()] == ["help"]
