"""The person's language: the catalogue for the locale Teams sends, English for the rest (never a key), and
times and numbers as the language writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.platform import i18n
from bot.platform.i18n import Translator, negotiate
from bot.platform.time import format_time

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # a Tuesday
LATER = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)  # 14:30 in Berlin
NEXT_WEEK = datetime(2026, 3, 17, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("de-DE", "de"),
        ("de-AT", "de"),
        ("fr-CA", "fr"),
        ("es-MX", "es"),
        ("ja-JP", "ja"),
        ("pt-BR", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("en-US", "en"),
        ("ko-KR", "en"),
        ("", "en"),
        (None, "en"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
    ],
)
def test_the_locale_teams_sends_picks_the_catalogue(tag: str | None, language: str) -> None:
    assert negotiate(tag) == language


def test_a_message_is_translated_in_the_language_of_the_block() -> None:
    with i18n.using("de-DE"):
        assert i18n._("Reminder set") == "Erinnerung festgelegt"
    assert i18n._("Reminder set") == "Reminder set"


def test_a_message_no_catalogue_has_falls_back_to_english_with_its_values() -> None:
    with i18n.using("ja-JP"):
        assert i18n._("Not a message Courier has, {name}", name="Ana") == "Not a message Courier has, Ana"


def test_a_language_courier_does_not_speak_gets_english() -> None:
    with i18n.using("ko-KR"):
        assert i18n._("Reminder set") == "Reminder set"


def test_plurals_follow_the_language() -> None:
    german = Translator("de")
    assert german.ngettext("{n} reply", "{n} replies", 1, n=1) == "1 Antwort"
    assert german.ngettext("{n} reply", "{n} replies", 3, n=3) == "3 Antworten"
    assert Translator("ja").ngettext("{n} reply", "{n} replies", 3, n=3) == "返信 3 件"


def test_numbers_are_written_as_the_language_writes_them() -> None:
    assert Translator("en").number(12345) == "12,345"
    assert Translator("de").number(12345) == "12.345"


def test_english_times_read_as_they_always_did() -> None:
    assert format_time(LATER, "Europe/Berlin", now=NOW) == "today 14:30 (Europe/Berlin)"
    assert format_time(NEXT_WEEK, "Europe/Berlin", now=NOW) == "Tue Mar 17, 14:30 (Europe/Berlin)"


def test_a_time_today_is_said_in_the_persons_language() -> None:
    with i18n.using("de-DE"):
        assert format_time(LATER, "Europe/Berlin", now=NOW) == "heute 14:30 (Europe/Berlin)"
    with i18n.using("ja-JP"):
        assert format_time(LATER, "Asia/Tokyo", now=NOW) == "今日 22:30 (Asia/Tokyo)"


def test_another_day_names_the_weekday_and_month_in_the_persons_language() -> None:
    with i18n.using("de-DE"):
        assert format_time(NEXT_WEEK, "Europe/Berlin", now=NOW) == "Di., 17. März, 14:30 (Europe/Berlin)"
    with i18n.using("fr-FR"):
        assert format_time(NEXT_WEEK, "Europe/Paris", now=NOW) == "mar. 17 mars, 14:30 (Europe/Paris)"


def test_someone_elses_time_is_said_in_the_readers_language() -> None:
    with i18n.using("es-ES"):
        text = format_time(LATER, "Europe/Madrid", now=NOW, other=("Ana", "Asia/Tokyo"))
    assert text == "hoy 14:30 (Europe/Madrid; 22:30 para Ana, Asia/Tokyo)"
