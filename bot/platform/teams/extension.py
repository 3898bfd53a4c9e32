"""Shapes of messaging-extension answers (composeExtension results and task modules)."""

from __future__ import annotations

from typing import Any

from bot.platform.cards import card_attachment
from bot.platform.teams.turn import InvokeResponse


def result_list(items: list[tuple[dict[str, Any], str, str]]) -> InvokeResponse:
    """A query result: each item is (card, preview title, preview text)."""
    attachments = []
    for card, title, text in items:
        attachment = card_attachment(card)
        attachment["preview"] = {
            "contentType": "application/vnd.microsoft.card.thumbnail",
            "content": {"title": title, "text": text},
        }
        attachments.append(attachment)
    return InvokeResponse(
        status=200,
        body={"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": attachments}},
    )


def message(text: str) -> InvokeResponse:
    return InvokeResponse(status=200, body={"composeExtension": {"type": "message", "text": text}})


def task_card(title: str, card: dict[str, Any], *, width: str = "medium", height: str = "medium") -> InvokeResponse:
    """A task module (dialog) showing a card; the answer to ``composeExtension/fetchTask``."""
    return InvokeResponse(
        status=200,
        body={
            "task": {
                "type": "continue",
                "value": {"title": title, "width": width, "height": height, "card": card_attachment(card)},
            }
        },
    )


def task_message(text: str) -> InvokeResponse:
    """A dialog that only says ``text`` (the answer to a fetchTask or submitAction that cannot go on)."""
    return InvokeResponse(status=200, body={"task": {"type": "message", "value": text}})


def close_dialog() -> InvokeResponse:
    """An empty answer to ``composeExtension/submitAction``: Teams closes the dialog (the feedback goes elsewhere)."""
    return InvokeResponse(status=200, body={})
