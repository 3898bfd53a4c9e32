"""Turning what Teams sends as message text into a command line.

Teams wraps @mentions in ``<at>..</at>``, may send HTML (``<p>``, ``<br>``), entities such as ``&nbsp;`` and
non-breaking spaces, and users type extra spaces and odd case.
"""

from __future__ import annotations

import html
import re
import unicodedata

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def strip_control(text: str) -> str:
    """Remove control and format characters (keeps newlines and tabs as spaces)."""
    return "".join(" " if ch in "\n\r\t" else ch for ch in text if ch in "\n\r\t" or unicodedata.category(ch)[0] != "C")


def normalize_command_text(text: str, *, bot_mention_texts: tuple[str, ...] = ()) -> str:
    """The command part of a message: bot mention removed, HTML and entities decoded, whitespace folded.

    ``bot_mention_texts`` are the exact mention strings of the bot (``<at>Courier</at>``) from the activity's
    entities; any remaining ``<at>`` of other people keeps their name as plain text.
    """
    for mention in bot_mention_texts:
        if mention:
            text = text.replace(mention, " ")
    text = _AT.sub(lambda m: m.group(1), text)
    text = re.sub(r"<br\s*/?>|</p>|</div>", " ", text, flags=re.IGNORECASE)
    text = _TAG.sub("", text)
    text = html.unescape(text).replace("\u00a0", " ")
    text = strip_control(text)
    return _SPACE.sub(" ", text).strip()
