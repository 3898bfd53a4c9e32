"""Courier speaks the person's language: the ``locale`` Teams sends with the activity picks the catalogue; the
command words work in every language it speaks; a language it does not speak gets English, never a message key."""

from __future__ import annotations

import re

from tests.support.bot import Bot
from tests.support.turns import activity


async def test_a_german_user_gets_help_in_german(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help", locale="de-DE"))
    text = turn.texts()
    assert "Was ich kann" in text and "Erinnerungen" in text
    assert "erinnere" in text  # the command words themselves are German
    assert "Show what I can do" not in text


async def test_the_german_command_word_runs_the_command(bot: Bot) -> None:
    turn = await bot.turn(activity(text="hilfe", locale="de-DE"))
    assert "Was ich kann" in turn.texts()


async def test_a_command_word_works_whatever_the_locale(bot: Bot) -> None:
    turn = await bot.turn(activity(text="ヘルプ", locale="en-US"))
    assert "What I can do" in turn.texts()


async def test_a_language_courier_does_not_speak_gets_english_never_a_key(bot: Bot) -> None:
    turn = await bot.turn(activity(text="help", locale="ko-KR"))
    text = turn.texts()
    assert "What I can do" in text and "Show what I can do" in text
    assert not re.search(r"\{\w+\}", text)  # every placeholder filled


async def test_an_unknown_command_is_answered_in_the_persons_language(bot: Bot) -> None:
    turn = await bot.turn(activity(text="halp", locale="fr-FR"))
    assert "Je n'ai pas compris" in turn.texts()


async def test_a_greeting_in_the_persons_language_is_answered_in_it(bot: Bot) -> None:
    turn = await bot.turn(activity(text="Hola", locale="es-ES"))
    assert (turn.sent[0].message.text or "").startswith("¡Hola")
