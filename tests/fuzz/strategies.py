"""Hypothesis strategies for what reaches Courier from outside: JSON of any shape, Adaptive Cards (valid and not),
notification bodies, activities and invokes built around what Teams really sends, with fields swapped for junk."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import strategies as st

from tests.support.live import TENANT

# Text that reaches SQL, templates and parsers: control characters (NUL included), astral characters, and so on.
TEXT = st.text(max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=16,
)
GUIDS = st.uuids().map(str)
LINKS = (
    st.sampled_from(
        ["https://contoso.com/a", "javascript:alert(1)", "data:image/png;base64,AAAA", "mailto:a@b.c", "http://x", ""]
    )
    | TEXT
)

COMMANDS = [
    "remind",
    "reminders",
    "reminders delete",
    "timezone",
    "quiet",
    "schedule",
    "meetings",
    "signin",
    "signout",
    "permissions",
    "consent",
    "notify status",
    "notify nudge",
    "help",
    "insights",
]
VERBS = [
    "ack",
    "nudge",
    "help",
    "run_command",
    "reminder.create",
    "reminder.delete",
    "reminder.edit",
    "reminder.done",
    "reminder.snooze",
    "reminder.tomorrow",
    "meeting.form",
    "meeting.pick",
    "meeting.resume",
    "meeting.reschedule",
    "meeting.move",
    "meeting.cancel",
]
EXTENSION_COMMANDS = ["sendAnnouncement", "remindAboutMessage", "scheduleMeeting", "channelInsights"]
CHAT_TEXT = st.one_of(
    st.builds(lambda c, rest: f"{c} {rest}", st.sampled_from(COMMANDS), TEXT),
    st.sampled_from(
        [
            "remind me tomorrow at 9am to send the report",
            "remind me every monday at 8 to plan",
            "remind me in 0 minutes to x",
            "remind me on 31 February to x",
            "remind me at 25:99 to x",
            "quiet 20:00-08:00",
            "quiet 99:00-08:00",
            "timezone Mars/Olympus",
            "schedule Retro tomorrow at 10:00",
            "insights last 99999 days",
        ]
    ),
    TEXT,
)


def _element(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("Container"), "items": st.lists(children, max_size=3)}),
        st.fixed_dictionaries(
            {
                "type": st.just("ColumnSet"),
                "columns": st.lists(st.fixed_dictionaries({"items": st.lists(children, max_size=2)}), max_size=2),
            }
        ),
    )


TEXT_BLOCK = st.fixed_dictionaries({"type": st.just("TextBlock"), "text": TEXT}, optional={"wrap": st.booleans()})
IMAGE = st.fixed_dictionaries({"type": st.just("Image"), "url": LINKS})
ELEMENTS = st.recursive(TEXT_BLOCK | IMAGE | JSON, _element, max_leaves=12)
ACTIONS = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("Action.OpenUrl"), "title": TEXT, "url": LINKS}),
        st.fixed_dictionaries({"type": st.just("Action.Execute"), "verb": TEXT, "data": JSON}),
        JSON,
    ),
    max_size=3,
)
CARDS = st.fixed_dictionaries(
    {"type": st.sampled_from(["AdaptiveCard", "AdaptiveCard", "Hero"]), "body": st.lists(ELEMENTS, max_size=4)},
    optional={
        "version": st.sampled_from(["1.0", "1.2", "1.5", "1.6", "2.0", 1.5]),
        "actions": ACTIONS,
        "$schema": TEXT,
    },
)

RECIPIENTS = st.one_of(
    st.builds(lambda g: {"userId": g}, GUIDS),
    st.builds(lambda e: {"upn": e}, st.emails() | TEXT),
    st.builds(lambda c: {"conversationId": c}, TEXT),
    st.builds(lambda t, c: {"channel": {"teamId": t, "channelId": c}}, TEXT, TEXT),
    st.builds(lambda t: {"team": f"19:{t}@thread.tacv2"}, TEXT),
    st.builds(lambda g: {"groupId": g}, GUIDS | TEXT),
    JSON,
)
SEND_AT = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-02-30T09:00:00Z", "now"]),
    JSON,
)
TEMPLATE_DATA = st.dictionaries(
    st.sampled_from(["title", "text", "link", "sender", "self", "acknowledge", "__class__", "items"]) | TEXT,
    JSON | LINKS,
    max_size=5,
)


def notification_bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of POST /api/notifications: the documented fields, each often of the wrong shape."""
    return st.fixed_dictionaries(
        {},
        optional={
            "idempotencyKey": st.builds(lambda: uuid.uuid4().hex) | TEXT | JSON,
            "tenantId": st.just(TENANT) | GUIDS | JSON,
            "recipients": st.lists(RECIPIENTS, max_size=4) | JSON,
            "card": CARDS | JSON,
            "template": st.sampled_from(["announcement", "reminder", "../etc/passwd"]) | JSON,
            "data": TEMPLATE_DATA | JSON,
            "sendAt": SEND_AT,
            "ackRequired": st.booleans() | JSON,
        },
    )


ACTIVITY_TYPES = st.sampled_from(
    [
        "message",
        "invoke",
        "conversationUpdate",
        "installationUpdate",
        "messageReaction",
        "messageUpdate",
        "event",
        "typing",
    ]
)
INVOKE_NAMES = (
    st.sampled_from(
        [
            "adaptiveCard/action",
            "composeExtension/query",
            "composeExtension/fetchTask",
            "composeExtension/submitAction",
            "composeExtension/querySettingUrl",
            "task/fetch",
            "signin/verifyState",
        ]
    )
    | TEXT
)
# Conversation ids with a slot for a fresh id per example ({}), in the three shapes Teams uses.
CONVERSATIONS = st.sampled_from(
    [
        {"id": "a:{}", "conversationType": "personal"},
        {"id": "19:{}@thread.v2", "conversationType": "groupChat", "isGroup": True},
        {"id": "19:{}@thread.tacv2;messageid=1", "conversationType": "channel", "isGroup": True},
    ]
)
INVOKES = st.sampled_from(["composeExtension/query", "composeExtension/fetchTask", "composeExtension/submitAction"])
ACTIVITY_FIELDS = st.sampled_from(
    [
        "type",
        "id",
        "timestamp",
        "localTimestamp",
        "localTimezone",
        "text",
        "textFormat",
        "attachments",
        "entities",
        "value",
        "name",
        "action",
        "membersAdded",
        "membersRemoved",
        "reactionsAdded",
        "reactionsRemoved",
        "replyToId",
        "recipient",
        "from",
        "conversation",
        "channelData",
        "suggestedActions",
        "locale",
    ]
)
JUNK = st.dictionaries(ACTIVITY_FIELDS, JSON, max_size=3)
GRAPH_ITEMS = st.lists(
    st.fixed_dictionaries(
        {}, optional={"subscriptionId": TEXT, "clientState": TEXT, "changeType": TEXT, "resourceData": JSON}
    )
    | JSON,
    max_size=5,
)
RAW = st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode())
LOOKUP_PATHS = st.sampled_from(["", "/recipients", "/recipients?format=csv", "/nudge"])
LOOKUP_QUERIES = st.dictionaries(st.sampled_from(["state", "cursor", "format"]), TEXT, max_size=2)


def card_action_values() -> st.SearchStrategy[Any]:
    data = st.dictionaries(
        st.sampled_from(["verb", "notification", "id", "reminder", "command", "text", "when"]) | TEXT, JSON, max_size=4
    )
    action = st.fixed_dictionaries(
        {"type": st.sampled_from(["Action.Execute", "Action.Submit"]) | TEXT, "verb": st.sampled_from(VERBS) | TEXT},
        optional={"data": data | JSON},
    )
    return (
        st.fixed_dictionaries({"action": action | JSON}, optional={"trigger": st.sampled_from(["manual", "automatic"])})
        | JSON
    )


def extension_values() -> st.SearchStrategy[Any]:
    return (
        st.fixed_dictionaries(
            {"commandId": st.sampled_from(EXTENSION_COMMANDS) | TEXT},
            optional={
                "commandContext": st.sampled_from(["compose", "commandBox", "message"]) | TEXT,
                "data": st.dictionaries(
                    st.sampled_from(["title", "text", "link", "audience", "ack", "when", "subject"]) | TEXT,
                    JSON,
                    max_size=5,
                )
                | JSON,
                "parameters": st.lists(st.fixed_dictionaries({"name": TEXT, "value": JSON}), max_size=2) | JSON,
                "queryOptions": JSON,
                "messagePayload": JSON,
            },
        )
        | JSON
    )
