"""Every edge fuzzed on SQLite, with real credentials (a Bot Framework channel token, an API key) so the input gets
past authentication (see :mod:`tests.fuzz.properties` for what each example must satisfy). About 1,650 examples."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import properties as p
from tests.fuzz import strategies as s
from tests.fuzz.properties import JSON_ENDPOINTS, Errors
from tests.fuzz.rig import FuzzApp

DATABASE = "sqlite"


@settings(max_examples=250)
@given(body=s.notification_bodies())
def test_notification_bodies(app: FuzzApp, errors: Errors, body: dict[str, Any]) -> None:
    p.notification_body(app, errors, body)


@settings(max_examples=400)
@given(endpoint=st.sampled_from(JSON_ENDPOINTS), raw=s.RAW)
def test_raw_bodies_on_every_json_endpoint(app: FuzzApp, errors: Errors, endpoint: str, raw: bytes) -> None:
    p.raw_body(app, errors, endpoint, raw)


@settings(max_examples=250)
@given(path=s.LOOKUP_PATHS, notification=s.TEXT, query=s.LOOKUP_QUERIES)
def test_notification_lookups(
    app: FuzzApp, errors: Errors, path: str, notification: str, query: dict[str, str]
) -> None:
    p.notification_lookup(app, errors, path, notification, query)


@settings(max_examples=250)
@given(items=s.GRAPH_ITEMS)
def test_graph_notifications(app: FuzzApp, errors: Errors, items: list[Any]) -> None:
    p.graph_notifications(app, errors, items)


@settings(max_examples=100)
@given(conversation=s.CONVERSATIONS, text=s.CHAT_TEXT, mention=st.booleans())
def test_chat_messages(app: FuzzApp, errors: Errors, conversation: dict[str, Any], text: str, mention: bool) -> None:
    p.chat_message(app, errors, conversation, text, mention)


@settings(max_examples=150)
@given(conversation=s.CONVERSATIONS, value=s.card_action_values())
def test_card_actions(app: FuzzApp, errors: Errors, conversation: dict[str, Any], value: Any) -> None:
    p.invoke(app, errors, conversation, "adaptiveCard/action", value)


@settings(max_examples=100)
@given(conversation=s.CONVERSATIONS, name=s.INVOKES, value=s.extension_values())
def test_messaging_extension_invokes(
    app: FuzzApp, errors: Errors, conversation: dict[str, Any], name: str, value: Any
) -> None:
    p.invoke(app, errors, conversation, name, value)


@settings(max_examples=150)
@given(conversation=s.CONVERSATIONS, kind=s.ACTIVITY_TYPES, name=s.INVOKE_NAMES, junk=s.JUNK)
def test_activities_with_junk_fields(
    app: FuzzApp, errors: Errors, conversation: dict[str, Any], kind: str, name: str, junk: dict[str, Any]
) -> None:
    p.junk_activity(app, errors, conversation, kind, name, junk)
