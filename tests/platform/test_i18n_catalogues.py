"""Every catalogue is complete: each message the code and the card templates ask for (extracted as `pybabel extract`
would, per folder) has a translation in German, French, Spanish, Japanese and Brazilian Portuguese, not empty, not
fuzzy, with the same placeholders as the English text. A new message without its translations fails the build; run
`python -m bot.tools.catalogues update` to add it to every catalogue, then translate it."""

from __future__ import annotations

import pytest

from bot.platform.i18n import LANGUAGES
from bot.tools.catalogues import Source, extract, placeholder_problems, problems, sources

SOURCES = sources()


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.folder.name)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_translates_every_message(source: Source, language: str) -> None:
    assert problems(source, language) == []


def _first(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_extraction_finds_messages_in_code_templates_and_command_words() -> None:
    by_folder = {
        s.folder.name: {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in extract(s)} for s in SOURCES
    }
    assert (None, "Reminder set") in by_folder["cards"]  # a template's _("...")
    assert (None, "Times in {zone}") in by_folder["reminders"]  # a handler's _("...", zone=...)
    assert ("command", "remind") in by_folder["reminders"]  # routes.command("remind", ...)
    assert (None, "{n} reply") in by_folder["insights"]  # ngettext


def test_a_placeholder_a_translation_drops_is_reported() -> None:
    assert placeholder_problems("x", ("Hi {name}",), ("Hallo",)) == ["x: placeholders [] instead of ['name']"]
    assert placeholder_problems("x", ("{n} reply", "{n} replies"), ("eine Antwort", "{n} Antworten")) == []
