"""Commands in every kind of conversation, as a user experiences them."""

from __future__ import annotations

from tests.support.bot import Bot
from tests.support.turns import activity


async def test_help_in_personal_chat_answers_with_the_help_card(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help"))
    assert len(turn.cards()) == 1
    assert "help" in turn.texts()
    assert "Show what I can do" in turn.texts()


async def test_commands_are_case_insensitive_and_tolerate_spaces_and_html(bot: Bot) -> None:
    turn = await bot.turn(activity(text="<p>&nbsp; HELP&nbsp; </p>"))
    assert "Show what I can do" in turn.texts()


async def test_help_in_a_channel_needs_the_mention_stripped(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help", conversation_type="channel", mention_bot=True))
    assert "Show what I can do" in turn.texts()


async def test_a_channel_message_without_a_mention_gets_no_answer(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help", conversation_type="channel"))
    assert turn.sent == []


async def test_help_in_a_group_chat_after_a_mention(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help", conversation_type="groupChat", mention_bot=True))
    assert "Show what I can do" in turn.texts()


async def test_an_unknown_command_suggests_the_closest_one(bot: Bot) -> None:
    turn = await bot.turn(activity(text="halp"))
    text = turn.texts()
    assert "halp" in text
    assert "help" in text


async def test_an_empty_mention_shows_help(bot: Bot) -> None:
    turn = await bot.turn(activity(text="", conversation_type="channel", mention_bot=True))
    assert "Show what I can do" in turn.texts()


async def test_a_redelivered_message_is_answered_once(bot: Bot) -> None:
    first = await bot.turn(activity(text="help", activity_id="same-id"))
    second = await bot.turn(activity(text="help", activity_id="same-id"))
    assert len(first.sent) == 1
    assert second.sent == []


async def test_the_same_activity_id_in_another_conversation_is_not_a_duplicate(bot: Bot) -> None:
    await bot.turn(activity(text="help", activity_id="same-id"))
    other = await bot.turn(activity(text="help", activity_id="same-id", conversation_id="a:other"))
    assert len(other.sent) == 1
