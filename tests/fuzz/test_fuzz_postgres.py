"""The edges where outside text reaches SQL, fuzzed on PostgreSQL (stricter than SQLite: no NUL in text, typed
comparisons), in a schema of its own (see :mod:`tests.fuzz.properties`). About 350 examples."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import properties as p
from tests.fuzz import strategies as s
from tests.fuzz.properties import Errors
from tests.fuzz.rig import FuzzApp

DATABASE = "postgresql"


@settings(max_examples=120)
@given(body=s.notification_bodies())
def test_notification_bodies(app: FuzzApp, errors: Errors, body: dict[str, Any]) -> None:
    p.notification_body(app, errors, body)


@settings(max_examples=120)
@given(path=s.LOOKUP_PATHS, notification=s.TEXT, query=s.LOOKUP_QUERIES)
def test_notification_lookups(
    app: FuzzApp, errors: Errors, path: str, notification: str, query: dict[str, str]
) -> None:
    p.notification_lookup(app, errors, path, notification, query)


@settings(max_examples=60)
@given(conversation=s.CONVERSATIONS, text=s.CHAT_TEXT, mention=st.booleans())
def test_chat_messages(app: FuzzApp, errors: Errors, conversation: dict[str, Any], text: str, mention: bool) -> None:
    p.chat_message(app, errors, conversation, text, mention)


@settings(max_examples=60)
@given(items=s.GRAPH_ITEMS)
def test_graph_notifications(app: FuzzApp, errors: Errors, items: list[Any]) -> None:
    p.graph_notifications(app, errors, items)
