"""What a person reads on a card: every text, title and fact value, in order."""

from __future__ import annotations

from typing import Any

_VISIBLE = {"text", "title", "value"}


def card_texts(node: Any) -> list[str]:
    out: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            for key, value in n.items():
                if key in _VISIBLE and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(n, list):
            for item in n:
                walk(item)

    walk(node)
    return out
