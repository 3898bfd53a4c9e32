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


def card_inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every input of a card by id, wherever it sits (columns, containers)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and "id" in node:
                found[node["id"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found
