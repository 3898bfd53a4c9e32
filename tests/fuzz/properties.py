"""The properties, as plain functions each test module drives with its own Hypothesis settings: whatever arrives,
Courier never answers 5xx, never logs an error of its own, and a request it refuses (4xx) stores nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from tests.fuzz.rig import FuzzApp
from tests.support.turns import activity

# What a request may write while being handled; tables that background work changes on its own (reminders firing,
# jobs rescheduled, deliveries claimed and sent) are left out, so a count change here is the request's.
REQUEST_TABLES = frozenset(
    {
        "acknowledgements",
        "channel_messages",
        "conversations",
        "insights_optout",
        "kv",
        "meetings",
        "notifications",
        "seen_activities",
        "tenants",
        "user_prefs",
    }
)
JSON_ENDPOINTS = ["/api/messages", "/api/notifications", "/api/graph/notifications"]


class Errors(logging.Handler):
    """Error records from Courier's own loggers (the ErrorBoundary logs a handler's crash here and answers 200)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("bot."):
            self.records.append(record)

    def take(self) -> list[str]:
        found = [f"{r.name}: {r.getMessage()} {r.exc_text or ''}"[:2000] for r in self.records]
        self.records.clear()
        return found


def check(app: FuzzApp, errors: Errors, send: Callable[[], int], tables: frozenset[str] = REQUEST_TABLES) -> int:
    """Send one request; its status, after checking: no 5xx, no error logged, nothing stored when refused."""
    errors.take()
    before = app.rows(tables)
    status: int = send()
    assert status < 500, f"answered {status}"
    if 400 <= status < 500:
        assert app.rows(tables) == before, "a refused request stored something"
    assert errors.take() == []
    return status


def activity_in(app: FuzzApp, conversation: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data = activity(serviceUrl=app.service_url, **fields)
    # A conversation of its own per example: Teams' per-conversation rate limits (which the connector emulator
    # enforces on replies) are not what is fuzzed here.
    data["conversation"] = {**data["conversation"], **conversation, "id": conversation["id"].format(uuid.uuid4().hex)}
    if conversation.get("conversationType") == "channel":
        data["channelData"]["team"] = {"id": "19:general@thread.tacv2"}
        data["channelData"]["channel"] = {"id": "19:general@thread.tacv2"}
    return data


# -- the properties -----------------------------------------------------------------------------------------


def notification_body(app: FuzzApp, errors: Errors, body: dict[str, Any]) -> None:
    assert check(app, errors, lambda: app.api("/api/notifications", body)) in {202, 400}


def raw_body(app: FuzzApp, errors: Errors, endpoint: str, raw: bytes) -> None:
    headers = app.channel_headers() if endpoint == "/api/messages" else app.bot.api_headers()
    check(app, errors, lambda: app.post(endpoint, raw, headers))


def chat_message(app: FuzzApp, errors: Errors, conversation: dict[str, Any], text: str, mention: bool) -> None:
    data = activity_in(app, conversation, text=text, mention_bot=mention)
    assert check(app, errors, lambda: app.activity(data)) in {200, 400}  # 400: a NUL character


def invoke(app: FuzzApp, errors: Errors, conversation: dict[str, Any], name: str, value: Any) -> None:
    data = activity_in(app, conversation, type_="invoke", name=name, value=value)
    check(app, errors, lambda: app.activity(data))


def junk_activity(
    app: FuzzApp, errors: Errors, conversation: dict[str, Any], kind: str, name: str, junk: dict[str, Any]
) -> None:
    data = activity_in(app, conversation, type_=kind, name=name, text="help")
    data.update(junk)
    check(app, errors, lambda: app.activity(data))


def graph_notifications(app: FuzzApp, errors: Errors, items: list[Any]) -> None:
    status = check(
        app, errors, lambda: app.post("/api/graph/notifications", {"value": items}), REQUEST_TABLES | {"jobs"}
    )
    assert status in {202, 400}


def notification_lookup(app: FuzzApp, errors: Errors, path: str, notification: str, query: dict[str, str]) -> None:
    url = f"/api/notifications/{quote(notification, safe='') or '-'}{path}"
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    check(app, errors, lambda: app.get(url, app.bot.api_headers()))
