"""The card buttons that lead to help: "See all commands" and the unknown-command card's "did you mean"."""

from __future__ import annotations

from typing import Any

from tests.support.bot import Bot
from tests.support.cards import card_texts
from tests.support.turns import RecordingTurn, activity


def _clicked(verb: str, **data: Any) -> dict[str, Any]:
    action = {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}}
    return activity("invoke", name="adaptiveCard/action", value={"action": action})


def _card_in_place(turn: RecordingTurn) -> dict[str, Any]:
    """The card that replaces the clicked one (the answer to the invoke)."""
    response = turn.state.invoke_response
    assert response is not None and response.body is not None
    card: dict[str, Any] = response.body["value"]
    return card


async def test_see_all_commands_replaces_the_card_with_the_help_card(bot: Bot) -> None:
    turn = await bot.turn(_clicked("help"))
    assert "What I can do" in card_texts(_card_in_place(turn))


async def test_the_help_card_lists_each_command_with_an_example(bot: Bot) -> None:
    turn = await bot.turn(_clicked("help"))
    texts = card_texts(_card_in_place(turn))
    assert "signin" in texts
    assert "e.g. signin" in texts


async def test_in_a_channel_the_help_card_says_to_mention_courier_first(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help", conversation_type="channel", mention_bot=True))
    assert "Mention me before each command, e.g. @Courier help" in turn.texts()


async def test_in_a_personal_chat_the_help_card_says_to_type_a_command(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help"))
    assert "Type a command, e.g. help" in turn.texts()


async def test_did_you_mean_runs_the_suggested_command(bot: Bot) -> None:
    turn = await bot.turn(_clicked("run_command", command="help"))
    assert "Show what I can do" in turn.texts()
    assert turn.state.invoke_response is not None and turn.state.invoke_response.status == 200


async def test_did_you_mean_with_a_command_that_does_not_exist_shows_help_instead(bot: Bot) -> None:
    turn = await bot.turn(_clicked("run_command", command="no-such-command"))
    assert turn.sent == []
    assert "What I can do" in card_texts(_card_in_place(turn))
