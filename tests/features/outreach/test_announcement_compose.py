"""The messaging extension action "Send announcement": senders only, a validated form, queued like the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.settings import Settings
from tests.support.bot import Bot, make_bot
from tests.support.turns import USER_AAD, activity


@pytest.fixture
async def sender_bot(tmp_path: Path) -> AsyncIterator[Bot]:
    made = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True, senders=frozenset({USER_AAD})))
    yield made
    await made.store.close()


def _fetch(conversation_type: str = "channel") -> dict[str, Any]:
    return activity(
        "invoke",
        name="composeExtension/fetchTask",
        value={"commandId": "sendAnnouncement", "commandContext": "compose"},
        conversation_type=conversation_type,
    )


def _submit(data: dict[str, Any], conversation_type: str = "channel", activity_id: str | None = None) -> dict[str, Any]:
    return activity(
        "invoke",
        name="composeExtension/submitAction",
        value={"commandId": "sendAnnouncement", "commandContext": "compose", "data": data},
        conversation_type=conversation_type,
        activity_id=activity_id,
    )


GOOD = {"title": "Office closed Friday", "text": "Maintenance all day.", "link": "", "audience": "team", "ack": "true"}


def _body(turn: Any) -> dict[str, Any]:
    response = turn.state.invoke_response
    assert response is not None and response.status == 200 and response.body is not None
    return dict(response.body)


async def test_someone_who_is_not_a_sender_is_told_who_decides(bot: Bot) -> None:
    body = _body(await bot.turn(_fetch()))
    assert "Only announcement senders" in str(body["task"]["value"]["card"])


async def test_a_sender_in_a_channel_may_choose_the_channel_or_every_member(sender_bot: Bot) -> None:
    card = _body(await sender_bot.turn(_fetch()))["task"]["value"]["card"]["content"]
    audience = next(b for b in card["body"] if b.get("id") == "audience")
    assert [c["value"] for c in audience["choices"]] == ["channel", "team"]


async def test_in_a_group_chat_the_audience_is_the_chat(sender_bot: Bot) -> None:
    card = _body(await sender_bot.turn(_fetch("groupChat")))["task"]["value"]["card"]["content"]
    audience = next(b for b in card["body"] if b.get("id") == "audience")
    assert [c["value"] for c in audience["choices"]] == ["chat"]


async def test_submitting_queues_one_notification_for_the_team(sender_bot: Bot) -> None:
    body = _body(await sender_bot.turn(_submit(GOOD)))
    text = body["composeExtension"]["text"]
    assert "every member of the team" in text
    notification_id = text.rsplit(" ", 1)[-1]
    notification = await OutreachLedger(sender_bot.store.db).get_notification(notification_id)
    assert notification is not None and notification.ack_required
    assert notification.sender == f"teams:{USER_AAD}"
    assert any(a.get("verb") == "ack" for a in notification.card["actions"])
    page = await OutreachLedger(sender_bot.store.db).page(notification_id, state=None, after="", limit=10)
    assert [d.recipient for d in page] == [{"team": "19:general@thread.tacv2"}]


async def test_a_redelivered_submit_queues_nothing_more(sender_bot: Bot) -> None:
    first = _body(await sender_bot.turn(_submit(GOOD, activity_id="submit-1")))
    await sender_bot.store.db.execute("DELETE FROM seen_activities")  # as if the dedupe window had passed
    again = _body(await sender_bot.turn(_submit(GOOD, activity_id="submit-1")))
    assert first["composeExtension"]["text"] == again["composeExtension"]["text"]
    assert int(await sender_bot.store.db.fetchval("SELECT COUNT(*) FROM notifications")) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "A title is required."),
        ({"text": "x" * 2001}, "longer than 2,000"),
        ({"link": "javascript:alert(1)"}, "https://"),
        ({"audience": "chat"}, "Choose who receives it."),
    ],
)
async def test_a_bad_form_comes_back_with_the_problem_and_the_values(
    sender_bot: Bot, change: dict[str, str], message: str
) -> None:
    body = _body(await sender_bot.turn(_submit({**GOOD, **change})))
    card = body["task"]["value"]["card"]["content"]
    assert message in str(card["body"])
    title = next(b for b in card["body"] if b.get("id") == "title")
    assert title["value"] == {**GOOD, **change}["title"]
    assert int(await sender_bot.store.db.fetchval("SELECT COUNT(*) FROM notifications")) == 0


async def test_a_non_sender_cannot_submit_either(bot: Bot) -> None:
    body = _body(await bot.turn(_submit(GOOD)))
    assert "Only announcement senders" in str(body)
    assert int(await bot.store.db.fetchval("SELECT COUNT(*) FROM notifications")) == 0
