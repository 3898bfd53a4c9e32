"""Adaptive Cards: jinja2 templates in ``cards/`` rendered with data into schema-1.5 card dicts.

Text in templates is written ``_("English")`` and rendered in the current language (:mod:`bot.platform.i18n`).
Every interpolated value goes through ``tojson``, so user text can never break a card's JSON. Each template
``cards/<name>.json.j2`` has sample data ``cards/<name>.sample.json`` used by tests and ``app.py cards``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from bot.platform import i18n

logger = logging.getLogger(__name__)

CARDS_DIR = Path(__file__).resolve().parents[2] / "cards"
MAX_CARD_BYTES = 28_000  # Teams' message payload limit is about 28 KB
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_SUFFIX = ".json.j2"


class CardError(ValueError):
    """A template failed to render into a valid card."""


class UnknownCard(CardError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no card template named {name!r}")
        self.name = name


class CardTooLarge(CardError):
    def __init__(self, name: str, size: int) -> None:
        super().__init__(f"card {name!r} is {size} bytes; Teams accepts about {MAX_CARD_BYTES}")
        self.size = size


def _tojson(value: Any) -> str:
    # ensure_ascii keeps "<", "&" and line separators harmless; the JSON stays exact.
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the missing value
    return json.dumps(value, ensure_ascii=True)


def _number(value: float) -> str:
    return i18n.current().number(value)


@lru_cache(maxsize=4)
def _environment(directory: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - the output is JSON, every value goes through tojson
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["tojson"] = _tojson
    # Card text is English message ids in _("..."), translated as the card renders (bot/platform/i18n.py).
    env.globals.update(_=i18n._, ngettext=i18n.ngettext, pgettext=i18n.pgettext, number=_number)
    env.policies["json.dumps_function"] = _tojson
    return env


class CardRenderer:
    def __init__(self, templates_dir: Path = CARDS_DIR) -> None:
        self._dir = templates_dir
        self._env = _environment(templates_dir)

    def names(self) -> list[str]:
        return sorted(p.name.removesuffix(_SUFFIX) for p in self._dir.glob(f"*{_SUFFIX}"))

    def sample(self, name: str) -> dict[str, Any]:
        path = self._dir / f"{name}.sample.json"
        if not path.is_file():
            raise UnknownCard(f"{name} (sample)")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def render(self, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            template = self._env.get_template(f"{name}{_SUFFIX}")
        except jinja2.TemplateNotFound:
            raise UnknownCard(name) from None
        try:
            text = template.render(dict(data))  # a mapping, so keys such as 'self' are plain data
        except jinja2.UndefinedError as exc:
            raise CardError(f"card {name!r} is missing data: {exc.message}") from exc
        try:
            card: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardError(f"card {name!r} rendered invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        size = len(json.dumps(card, separators=(",", ":")).encode("utf-8"))
        if size > MAX_CARD_BYTES:
            raise CardTooLarge(name, size)
        return card


def card_attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "content": card}
