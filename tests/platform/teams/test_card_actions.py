"""Card actions route by verb: Action.Execute invokes and Action.Submit messages alike."""

from __future__ import annotations

import pytest

from bot.platform.teams.activity import MalformedActivity, parse_activity
from tests.support.bot import Bot
from tests.support.probe import PONG, Probe
from tests.support.turns import activity

ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def _execute(verb: str, data: dict[str, object] | None = None) -> dict[str, object]:
    return activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data or {}}, "trigger": "manual"},
    )


async def test_action_execute_replaces_the_card_in_place(bot: Bot) -> None:
    turn = await bot.turn(_execute("ping"))
    response = turn.state.invoke_response
    assert response is not None and response.status == 200
    assert response.body is not None
    assert response.body["type"] == ADAPTIVE
    assert response.body["value"]["type"] == "AdaptiveCard"
    assert bot.feature(Probe).heard == ["action:ping"]


async def test_action_submit_routes_by_data_verb_and_updates_the_message(bot: Bot) -> None:
    turn = await bot.turn(activity(value={"verb": "ping"}, replyToId="card-1"))
    assert [(s.kind, s.activity_id) for s in turn.sent] == [("update", "card-1")]
    assert PONG in turn.texts()


async def test_action_submit_without_a_message_to_update_replies_with_the_card(bot: Bot) -> None:
    turn = await bot.turn(activity(value={"verb": "ping"}))
    assert [s.kind for s in turn.sent] == ["reply"]


def test_an_action_without_a_verb_is_malformed_at_the_edge() -> None:
    data = activity("invoke", name="adaptiveCard/action", value={"action": {"type": "Action.Execute"}})
    with pytest.raises(MalformedActivity, match=r"value\.action\.verb"):
        parse_activity(data)


async def test_an_unknown_verb_answers_with_a_helpful_card(bot: Bot) -> None:
    turn = await bot.turn(_execute("no-such-verb"))
    response = turn.state.invoke_response
    assert response is not None and response.body is not None
    assert response.body["type"] == ADAPTIVE
    assert bot.feature(Probe).heard == []


async def test_an_unknown_invoke_is_acknowledged_without_a_body_never_a_5xx(bot: Bot) -> None:
    turn = await bot.turn(activity("invoke", name="some/other"))
    assert turn.state.invoke_response is not None
    assert (turn.state.invoke_response.status, turn.state.invoke_response.body) == (200, None)
