"""Reminders in the person's language: set in German, French, Spanish, Japanese and Brazilian Portuguese (dates read
by dateparser in that language), confirmed in the language Teams says the person speaks, with localized times; a
reminder that fires speaks its recipient's remembered language. On the fake clock (Tuesday 2026-03-10 10:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.features.reminders.store import Reminder, ReminderStore
from tests.support.bot import Bot
from tests.support.cards import card_texts
from tests.support.turns import TENANT, USER_AAD, RecordingTurn, activity

MONDAYS = "FREQ=WEEKLY;BYDAY=MO"


def say(text: str, locale: str, zone: str = "Europe/Paris") -> dict[str, Any]:
    return activity("message", text=text, locale=locale, localTimezone=zone)


def texts(turn: RecordingTurn) -> str:
    return " ".join(" ".join(card_texts(s.message.card)) for s in turn.sent if s.message.card)


async def mine(bot: Bot) -> list[Reminder]:
    return list(await ReminderStore(bot.store).upcoming_for_user(TENANT, USER_AAD))


async def test_a_japanese_reminder_is_confirmed_in_japanese_with_a_localized_time(bot: Bot) -> None:
    turn = await bot.turn(say("リマインド 明日9時に 報告書を送る", "ja-JP", "Asia/Tokyo"))
    assert "「報告書を送る」を 3月11日(水) 09:00 (Asia/Tokyo) にリマインドします。" in texts(turn)
    assert "リマインダーを設定しました" in texts(turn)
    (reminder,) = await mine(bot)
    assert reminder.due_at == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "words", "text", "confirmation"),
    [
        ("de-DE", "erinnere mich morgen um 9 an den Bericht", "den Bericht", "Ich erinnere Sie an „den Bericht“"),
        ("fr-FR", "rappelle-moi demain à 9h d'envoyer le rapport", "envoyer le rapport", "Je vous rappellerai"),
        (
            "es-ES",
            "recuérdame mañana a las 9 que envíe el informe",
            "envíe el informe",
            "Te recordaré «envíe el informe»",
        ),
        ("pt-BR", "lembre-me amanhã às 9 de enviar o relatório", "enviar o relatório", "Vou lembrar você de"),
    ],
)
async def test_a_reminder_in_the_persons_language_is_set_for_tomorrow_at_nine(
    bot: Bot, locale: str, words: str, text: str, confirmation: str
) -> None:
    turn = await bot.turn(say(words, locale))
    assert confirmation in texts(turn)
    (reminder,) = await mine(bot)
    assert reminder.text == text
    assert reminder.due_at == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)  # 09:00 in Paris


@pytest.mark.parametrize(
    ("locale", "words", "rule", "repeat"),
    [  # each: a weekly (or daily) repetition and how the confirmation says it
        (
            "de-DE",
            "erinnere mich jeden Montag um 10 an das Standup",
            "FREQ=WEEKLY;BYDAY=MO",
            "dann jeden Montag um 10:00",
        ),
        (
            "fr-FR",
            "rappelle-moi chaque lundi à 10h de poster le standup",
            "FREQ=WEEKLY;BYDAY=MO",
            "puis chaque lundi à 10:00",
        ),
        (
            "es-ES",
            "recuérdame cada lunes a las 10 que publique el standup",
            "FREQ=WEEKLY;BYDAY=MO",
            "cada lunes a las 10:00",
        ),
        (
            "pt-BR",
            "lembre-me toda segunda às 10 de postar o standup",
            "FREQ=WEEKLY;BYDAY=MO",
            "toda segunda-feira às 10:00",
        ),
        ("ja-JP", "リマインド 毎週月曜10時に 朝会を投稿する", MONDAYS, "毎週月曜日 10:00"),
        ("de-DE", "erinnere mich jeden Tag um 8 an Wasser", "FREQ=DAILY", "dann jeden Tag um 08:00"),
    ],
)
async def test_a_repeating_reminder_in_the_persons_language_says_how_it_repeats(
    bot: Bot, locale: str, words: str, rule: str, repeat: str
) -> None:
    turn = await bot.turn(say(words, locale))
    assert repeat in texts(turn)
    (reminder,) = await mine(bot)
    assert reminder.rule == rule


async def test_an_english_reminder_from_a_german_user_is_read_in_english_and_answered_in_german(bot: Bot) -> None:
    turn = await bot.turn(say("remind me tomorrow at 9am to send the report", "de-DE"))
    assert "Ich erinnere Sie an „send the report“" in texts(turn)


async def test_a_reminder_that_cannot_be_read_is_explained_in_the_persons_language(bot: Bot) -> None:
    turn = await bot.turn(say("erinnere mich irgendwann an nichts", "de-DE"))
    assert "Ich konnte diese Erinnerung nicht festlegen" in texts(turn)
    assert await mine(bot) == []
