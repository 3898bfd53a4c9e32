"""Message catalogues: what each folder's code and templates ask to translate, and the ``.po`` files that answer.

Each folder that owns text keeps its catalogues beside it (``<folder>/locales/<lang>/LC_MESSAGES/courier.po``):
``bot/platform``, each ``bot/features/<name>`` and ``cards`` (the templates). ``babel.cfg`` at the root says how
sources are read; the same extraction runs here, per folder::

    python -m bot.tools.catalogues update    # add new messages (empty) to every catalogue, drop unused ones
    python -m bot.tools.catalogues check     # what is missing, empty, fuzzy or has other placeholders

Command words (``routes.command("remind", ...)``) are extracted under the context ``command``: their translation is
the word people type in that language.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.platform.i18n import DOMAIN, LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
COMMAND_CONTEXT = "command"
_PYTHON = [("**.py", "python")]
_TEMPLATES = [("**.j2", "jinja2.ext:babel_extract")]
_PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


@dataclass(frozen=True, slots=True)
class Source:
    """A folder whose text has catalogues: its sources and how they are read."""

    folder: Path
    method_map: tuple[tuple[str, str], ...]

    @property
    def locales(self) -> Path:
        return self.folder / "locales"

    def po_path(self, language: str) -> Path:
        return self.locales / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def sources() -> list[Source]:
    found = [Source(ROOT / "bot" / "platform", tuple(_PYTHON)), Source(ROOT / "cards", tuple(_TEMPLATES))]
    found += [Source(d, tuple(_PYTHON)) for d in sorted((ROOT / "bot" / "features").iterdir()) if d.is_dir()]
    return [s for s in found if not s.folder.name.startswith("__")]


def _messages(source: Source, keywords: dict[str, object]) -> Iterator[tuple[str | tuple[str, ...], str | None]]:
    for _file, _line, message, _comments, context in extract_from_dir(
        source.folder,
        method_map=source.method_map,
        keywords=keywords,  # type: ignore[arg-type]
        directory_filter=lambda d: "locales" not in Path(d).parts,
    ):
        yield message, context


def extract(source: Source) -> Catalog:
    """Every message ``source``'s code and templates ask for, English ids only."""
    catalogue = Catalog(domain=DOMAIN, project="Courier", fuzzy=False)
    for message, context in _messages(source, dict(DEFAULT_KEYWORDS)):
        catalogue.add(message, context=context)
    for message, _context in _messages(source, {"command": None}):
        catalogue.add(message, context=COMMAND_CONTEXT)
    return catalogue


def read(source: Source, language: str) -> Catalog | None:
    path = source.po_path(language)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def placeholders(text: str) -> set[str]:
    return {m.group(1) for m in _PLACEHOLDER.finditer(text)}


def _texts(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v or "") for v in value)
    return ()


def placeholder_problems(where: str, ids: tuple[str, ...], strings: tuple[str, ...]) -> list[str]:
    """Every translation uses only the English text's placeholders; a plural's last form (the one for many, the
    only one in Japanese) uses all of them, as the English plural does (a singular may say "one" in words)."""
    expected = set().union(*(placeholders(i) for i in ids))
    found = []
    for number, text in enumerate(strings, start=1):
        used = placeholders(text)
        last = number == len(strings)
        if not used <= expected or ((last or len(ids) == 1) and used != expected):
            found.append(f"{where}: placeholders {sorted(used)} instead of {sorted(expected)}")
    return found


def problems(source: Source, language: str) -> list[str]:
    """What ``language``'s catalogue of ``source`` lacks: missing, empty or fuzzy messages, other placeholders."""
    have = read(source, language)
    found: list[str] = []
    for message in extract(source):
        ids = _texts(message.id)
        if not ids or not ids[0]:
            continue
        got = have.get(message.id, context=message.context) if have is not None else None
        where = f"{source.folder.relative_to(ROOT)} [{language}] {ids[0]!r}"
        strings = _texts(got.string) if got is not None else ()
        if got is None or not strings or not all(strings):
            found.append(f"{where}: not translated")
        elif got.fuzzy:
            found.append(f"{where}: fuzzy")
        else:
            found += placeholder_problems(where, ids, strings)
    return found


def update(source: Source) -> None:
    """Bring every language's catalogue of ``source`` up to date with its code (new messages empty)."""
    template = extract(source)
    if not len(template):
        return
    for language in LANGUAGES:
        catalogue = read(source, language) or Catalog(locale=language, domain=DOMAIN, project="Courier")
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        path = source.po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalogue, width=120, omit_header=False, sort_output=False)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        for source in sources():
            update(source)
        return 0
    found = [p for source in sources() for language in LANGUAGES for p in problems(source, language)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
