"""Wrong-typed, deeply nested, chunked or oversized activities get a clear 4xx (or are served), never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.live import LiveBot
from tests.support.turns import activity

WRONG_TYPES: list[tuple[str, Any]] = [
    ("timestamp", 12),
    ("timestamp", "not a date"),
    ("localTimestamp", ["x"]),
    ("attachments", "x"),
    ("attachments", [1, 2]),
    ("recipient", "bot"),
    ("entities", {"type": "mention"}),
    ("entities", ["x"]),
    ("membersAdded", 5),
    ("membersAdded", ["x"]),
    ("suggestedActions", "x"),
    ("reactionsAdded", {"type": "like"}),
    ("channelData", "x"),
    ("value", {"self": 1}),
    ("text", {"a": 1}),
    ("locale", 7),
    ("localTimezone", 7),
    ("replyToId", ["x"]),
]


async def _post(bot: LiveBot, body: bytes, *, chunked: bool = False) -> int:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = await bot.session.post(
        f"{bot.url}/api/messages",
        data=chunks() if chunked else body,
        headers={"Authorization": f"Bearer {bot.token()}", "Content-Type": "application/json"},
    )
    return response.status


def _message(**fields: Any) -> dict[str, Any]:
    return activity(text="ping", serviceUrl="{service}", **fields)


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES)
async def test_a_wrong_typed_field_is_never_a_server_error(live_bot: LiveBot, field: str, value: Any) -> None:
    body = activity(text="ping", serviceUrl=live_bot.connector.url)
    body[field] = value
    status = await _post(live_bot, json.dumps(body).encode())
    assert status in {200, 400}


async def test_fifty_thousand_levels_of_nesting_are_refused(live_bot: LiveBot) -> None:
    body = json.dumps(activity(text="ping", serviceUrl=live_bot.connector.url))
    deep = body[:-1] + ', "value": ' + "[" * 50_000 + "]" * 50_000 + "}"
    assert await _post(live_bot, deep.encode()) == 400


async def test_a_valid_activity_sent_in_chunks_is_served(live_bot: LiveBot) -> None:
    body = activity(text="ping", serviceUrl=live_bot.connector.url)
    body["channelData"]["padding"] = "x" * 200_000  # large, still under the limit
    assert await _post(live_bot, json.dumps(body).encode(), chunked=True) == 200


async def test_a_chunked_body_over_the_limit_is_413(live_bot: LiveBot) -> None:
    body = json.dumps({"padding": "x" * 2_000_000}).encode()
    assert await _post(live_bot, body, chunked=True) == 413
