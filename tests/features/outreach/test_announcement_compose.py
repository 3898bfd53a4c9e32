"""The messaging extension action "Send announcement": senders only, a validated form, queued like the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.features.outreach.rig import OutreachBot, invoke_body, take_queued
from tests.support.turns import USER_AAD, activity


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


def _form(body: dict[str, Any]) -> dict[str, Any]:
    card: dict[str, Any] = body["task"]["value"]["card"]["content"]
    return card


def _input(card: dict[str, Any], input_id: str) -> dict[str, Any]:
    return next(b for b in card["body"] if b.get("id") == input_id)


async def test_someone_who_is_not_a_sender_is_told_who_decides(everyone_bot: OutreachBot) -> None:
    body = invoke_body(await everyone_bot.turn(_fetch()))
    assert body["task"]["type"] == "message"  # a dialog that only says who decides
    assert body["task"]["value"].startswith("Only announcement senders can do this")
    assert "COURIER_SENDERS" in body["task"]["value"]


async def test_a_sender_in_a_channel_may_choose_the_channel_or_every_member(sender_bot: OutreachBot) -> None:
    card = _form(invoke_body(await sender_bot.turn(_fetch())))
    assert [c["value"] for c in _input(card, "audience")["choices"]] == ["channel", "team"]


async def test_in_a_group_chat_the_audience_is_the_chat(sender_bot: OutreachBot) -> None:
    card = _form(invoke_body(await sender_bot.turn(_fetch("groupChat"))))
    assert [c["value"] for c in _input(card, "audience")["choices"]] == ["chat"]


async def test_submitting_queues_one_notification_for_the_team(sender_bot: OutreachBot) -> None:
    body = invoke_body(await sender_bot.turn(_submit(GOOD)))
    text = body["composeExtension"]["text"]
    assert "every member of the team" in text
    notification_id = text.rsplit(" ", 1)[-1]
    notification = await sender_bot.ledger.get_notification(notification_id)
    assert notification is not None and notification.ack_required
    assert notification.sender == f"teams:{USER_AAD}"
    page = await sender_bot.ledger.page(notification_id, state=None, after="", limit=10)
    assert [d.recipient for d in page] == [{"team": "19:general@thread.tacv2"}]


async def test_an_announcement_that_asks_for_acknowledgements_has_the_button(sender_bot: OutreachBot) -> None:
    text = invoke_body(await sender_bot.turn(_submit(GOOD)))["composeExtension"]["text"]
    notification = await sender_bot.ledger.get_notification(text.rsplit(" ", 1)[-1])
    assert notification is not None
    ack = next(a for a in notification.card["actions"] if a.get("verb") == "ack")
    assert ack["title"] == "Acknowledge" and ack["data"]["notification"] == notification.id


async def test_an_announcement_without_acknowledgements_has_no_button(sender_bot: OutreachBot) -> None:
    text = invoke_body(await sender_bot.turn(_submit({**GOOD, "ack": "false"})))["composeExtension"]["text"]
    notification = await sender_bot.ledger.get_notification(text.rsplit(" ", 1)[-1])
    assert notification is not None and not notification.ack_required
    assert "actions" not in notification.card


async def test_a_redelivered_submit_queues_nothing_more(sender_bot: OutreachBot) -> None:
    first = invoke_body(await sender_bot.turn(_submit(GOOD, activity_id="submit-1")))
    ttl = timedelta(seconds=sender_bot.bot.services.settings.dedupe_ttl_seconds)
    sender_bot.clock.advance(ttl + timedelta(seconds=1))  # as if the dedupe window had passed
    await sender_bot.bot.store.forget_activities_before(sender_bot.clock() - ttl)
    again = invoke_body(await sender_bot.turn(_submit(GOOD, activity_id="submit-1")))
    assert first["composeExtension"]["text"] == again["composeExtension"]["text"]
    assert len(await take_queued(sender_bot)) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "A title is required."),
        ({"text": "x" * 2001}, "The message is longer than 2,000 characters."),
        ({"link": "javascript:alert(1)"}, "The link must be a full https:// address."),
        ({"audience": "chat"}, "Choose who receives it."),
    ],
)
async def test_a_bad_form_comes_back_with_the_problem_and_the_values(
    sender_bot: OutreachBot, change: dict[str, str], message: str
) -> None:
    card = _form(invoke_body(await sender_bot.turn(_submit({**GOOD, **change}))))
    assert any(b.get("text") == message for b in card["body"])
    assert _input(card, "title")["value"] == {**GOOD, **change}["title"]
    assert await take_queued(sender_bot) == []


async def test_a_non_sender_cannot_submit_either(everyone_bot: OutreachBot) -> None:
    body = invoke_body(await everyone_bot.turn(_submit(GOOD)))
    assert body["task"]["value"].startswith("Only announcement senders can do this")
    assert await take_queued(everyone_bot) == []
