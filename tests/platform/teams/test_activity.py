"""Parsing inbound activities: what every activity must have, and Teams' channel data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.platform.storage.models import ConversationKind
from bot.platform.teams.activity import MalformedActivity, parse_activity
from tests.support.turns import TENANT, activity


def test_a_personal_message_parses() -> None:
    parsed = parse_activity(activity(text="help"))
    assert parsed.kind is ConversationKind.PERSONAL
    assert parsed.tenant_id == TENANT
    assert parsed.sender.aad_object_id is not None


def test_a_channel_message_carries_team_and_channel() -> None:
    parsed = parse_activity(activity(text="help", conversation_type="channel", mention_bot=True))
    assert parsed.kind is ConversationKind.CHANNEL
    assert parsed.team_id and parsed.channel_id_teams
    assert parsed.mentions_bot()


def test_a_thread_reply_exposes_its_root() -> None:
    parsed = parse_activity(
        activity(text="x", conversation_type="channel", conversation_id="19:c@thread.tacv2;messageid=1700000000000")
    )
    assert parsed.thread_root_id == "1700000000000"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a.pop("type"), "type"),
        (lambda a: a.pop("serviceUrl"), "serviceUrl"),
        (lambda a: a["conversation"].pop("id"), "conversation.id"),
        (lambda a: a.pop("from"), "from.id"),
        (lambda a: a.update(text=42), "text"),
    ],
)
def test_malformed_activities_name_the_field(mutate: Callable[[dict[str, Any]], object], field: str) -> None:
    data = activity(text="help")
    mutate(data)
    with pytest.raises(MalformedActivity, match=field.replace(".", r"\.")):
        parse_activity(data)


def test_a_body_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedActivity):
        parse_activity(["not", "an", "activity"])


def test_oversize_text_is_malformed() -> None:
    with pytest.raises(MalformedActivity, match="longer"):
        parse_activity(activity(text="x" * 30_000))
