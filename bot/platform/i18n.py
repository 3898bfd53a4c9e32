"""The person's language: which one (the ``locale`` Teams sends), the message catalogues, and words in it.

Every text a person reads is an English message id wrapped where it is written::

    from bot.platform.i18n import N_, _, ngettext

    _("Reminder set")                              # translated now, in the turn's language
    _("Delivered your reminder to {who}", who=name)  # placeholders are str.format fields, filled after translating
    ngettext("{n} reply", "{n} replies", n, n=n)
    GROUP = N_("Reminders")                        # marked for extraction; translated later with _(GROUP)

Catalogues are gettext ``.po`` files that live with what they translate: ``<folder>/locales/<lang>/LC_MESSAGES/
courier.po`` for ``bot/platform``, each ``bot/features/<name>`` and the card templates in ``cards/``. They are read
directly (no compiled files) and merged once per language. A message a catalogue misses (or has empty or fuzzy)
falls back to English, never to a key; ``tests/platform/test_i18n_catalogues.py`` fails the build when one is missing.

The language of the moment is a context variable: the turn sets it from the activity (:func:`using`), a proactive
send sets it from the recipient's remembered locale; code that has neither speaks English.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

logger = logging.getLogger(__name__)

DOMAIN = "courier"
ENGLISH = "en"
# The languages Courier speaks (catalogue folder names); English is the message ids themselves.
LANGUAGES: tuple[str, ...] = ("de", "fr", "es", "ja", "pt_BR")
# A language Teams may send with another region than the catalogue's ("pt-PT" reads the Brazilian one).
_BY_LANGUAGE = {lang.split("_")[0]: lang for lang in LANGUAGES}
_ROOT = Path(__file__).resolve().parents[2]

_current: ContextVar[str] = ContextVar("courier_language", default=ENGLISH)


def negotiate(tag: str | None) -> str:
    """The catalogue for a BCP 47 tag Teams sends ("de-DE", "pt-BR", "ja-JP"): the exact one, else the language's,
    else English (e.g. "ko-KR")."""
    if not tag or not isinstance(tag, str):
        return ENGLISH
    first = tag.split(",")[0].split(";")[0].strip()  # an Accept-Language header's first choice
    parts = first.replace("_", "-").split("-")
    language = parts[0].lower()
    exact = f"{language}_{parts[1].upper()}" if len(parts) > 1 else language
    if exact in LANGUAGES:
        return exact
    return _BY_LANGUAGE.get(language, ENGLISH)


def catalogue_folders() -> tuple[Path, ...]:
    """Every ``locales`` folder: the platform's, the card templates' and each feature's (found on disk, so the
    platform imports no feature)."""
    folders = [_ROOT / "bot" / "platform" / "locales", _ROOT / "cards" / "locales"]
    folders += sorted((_ROOT / "bot" / "features").glob("*/locales"))
    return tuple(f for f in folders if f.is_dir())


def _compiled(po_path: Path) -> Translations:
    with po_path.open("rb") as handle:
        catalogue = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)  # empty and fuzzy translations are left out: English shows
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@lru_cache(maxsize=16)
def translations(language: str) -> NullTranslations:
    """Every catalogue of ``language``, merged (English: none, the ids are the text)."""
    merged: NullTranslations = NullTranslations()
    if language == ENGLISH:
        return merged
    found: Translations | None = None
    for folder in catalogue_folders():
        po_path = folder / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po_path.is_file():
            continue
        part = _compiled(po_path)
        found = part if found is None else found.merge(part)
    return found if found is not None else merged


def _fill(translated: str, english: str, values: dict[str, object]) -> str:
    if not values:
        return translated
    try:
        return translated.format(**values)
    except (KeyError, IndexError, ValueError):
        logger.warning("a translation's placeholders do not match its English text: %r", english)
        return english.format(**values)


@dataclass(frozen=True, slots=True)
class Translator:
    """Words in one language: messages, plurals, dates, times and numbers."""

    language: str = ENGLISH

    @property
    def babel_locale(self) -> Locale:
        return _babel_locale(self.language)

    @property
    def is_english(self) -> bool:
        return self.language == ENGLISH

    def gettext(self, message: str, /, **values: object) -> str:
        return _fill(translations(self.language).ugettext(message), message, values)

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        english = singular if n == 1 else plural
        return _fill(translations(self.language).ungettext(singular, plural, n), english, values)

    def pgettext(self, context: str, message: str, /, **values: object) -> str:
        return _fill(translations(self.language).upgettext(context, message), message, values)

    def number(self, value: float) -> str:
        """1,234 in English, 1.234 in German, 1 234 in French."""
        return format_decimal(value, locale=self.babel_locale)

    def day_and_time(self, when: datetime) -> str:
        """A weekday, date and time without the year ("Di., 10. März, 14:30")."""
        if self.is_english:
            return f"{when:%a %b %d, %H:%M}"
        day = format_skeleton("MMMEd", when, locale=self.babel_locale)
        return f"{day}, {self.clock(when)}" if self.language != "ja" else f"{day} {self.clock(when)}"

    def weekday_and_time(self, when: datetime) -> str:
        if self.is_english:
            return f"{when:%a %H:%M}"
        return f"{format_datetime(when, 'EEE', locale=self.babel_locale)} {self.clock(when)}"

    def clock(self, when: datetime) -> str:
        """The time of day on a 24-hour clock, as the language writes it."""
        return format_datetime(when, "HH:mm", locale=self.babel_locale)

    def short_date(self, when: datetime) -> str:
        """A day of a month without the year ("Mar 10", "10. März", "3月10日")."""
        if self.is_english:
            return f"{when:%b %d}"
        return format_skeleton("MMMd", when, locale=self.babel_locale)

    def weekday_short(self, index: int) -> str:
        """Monday is 0: "Mon", "Mo.", "lun.", "月"."""
        return str(self.babel_locale.days["format"]["abbreviated"][index])

    def month_name(self, month: int) -> str:
        names = self.babel_locale.months["format"]["wide"]
        return str(names[month])


@lru_cache(maxsize=16)
def _babel_locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(ENGLISH)


def current() -> Translator:
    """The translator of the turn (or proactive send) being handled."""
    return Translator(_current.get())


def language() -> str:
    return _current.get()


@contextmanager
def using(locale: str | None) -> Iterator[Translator]:
    """Speak ``locale``'s language (a Teams tag or a catalogue name) inside the block."""
    token = _current.set(negotiate(locale))
    try:
        yield current()
    finally:
        _current.reset(token)


def _(message: str, /, **values: object) -> str:
    """``message`` in the current language, its ``{placeholders}`` filled."""
    return current().gettext(message, **values)


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    return current().ngettext(singular, plural, n, **values)


def pgettext(context: str, message: str, /, **values: object) -> str:
    return current().pgettext(context, message, **values)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined (a constant); translate it with ``_()`` where it is used."""
    return message


def command_words(name: str) -> tuple[str, ...]:
    """A command's word in every language Courier speaks (catalogue context ``command``), without the English one."""
    words = {Translator(lang).pgettext("command", name).lower() for lang in LANGUAGES}
    words.discard(name.lower())
    return tuple(sorted(" ".join(w.split()) for w in words if w.strip()))
