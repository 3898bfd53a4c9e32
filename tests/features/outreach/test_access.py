"""Only a notification's sender (or an admin) sees and nudges it in Teams; only its recipients acknowledge it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.platform.settings import Settings
from tests.features.outreach.rig import (
    OutreachBot,
    announce,
    card_click,
    deliver_everything,
    invoke_body,
    make_outreach_bot,
)
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.turns import USER_AAD, RecordingTurn, activity

STRANGER = "bbbbbbbb-1111-2222-3333-444444444444"  # an announcement sender too, but not of this one
ADMIN = "cccccccc-1111-2222-3333-444444444444"
NOT_YOURS = ["Not your notification", "Only the person who sent it, or a Courier admin, can see or nudge it."]
NOT_SENT = ["This wasn't sent to you", "Only the people this announcement was sent to can acknowledge it."]


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[OutreachBot]:
    settings = Settings(
        dangerously_allow_anonymous=True, senders=frozenset({USER_AAD, STRANGER}), admins=frozenset({ADMIN})
    )
    made = await make_outreach_bot(tmp_path, settings, clock)
    yield made
    await made.outbox.close()
    await made.bot.store.close()


def _as(data: dict[str, Any], user: str, conversation: str | None = None) -> dict[str, Any]:
    data["from"] = {"id": f"29:{user[:4]}", "name": "Someone", "aadObjectId": user}
    if conversation is not None:
        data["conversation"]["id"] = conversation
    return data


def _said(turn: RecordingTurn) -> list[str]:
    assert len(turn.sent) == 1 and turn.sent[0].message.card is not None
    return card_texts(turn.sent[0].message.card)[-2:]


async def _sent_announcement(bot: OutreachBot) -> str:
    notification_id = await announce(bot)  # to USER_AAD's personal chat, acknowledgement required
    await deliver_everything(bot)
    return notification_id


async def test_a_stranger_may_not_see_the_status(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    turn = await bot.turn(_as(activity("message", text=f"notify status {notification_id}"), STRANGER, "a:theirs"))
    assert _said(turn) == NOT_YOURS


async def test_an_admin_may_see_the_status(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    turn = await bot.turn(_as(activity("message", text=f"notify status {notification_id}"), ADMIN, "a:admin"))
    assert turn.sent[0].message.text == f"Notification {notification_id}"


async def test_a_strangers_nudge_is_refused_and_does_not_use_up_the_owners_hour(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    stranger = await bot.turn(_as(activity("message", text=f"notify nudge {notification_id}"), STRANGER, "a:x"))
    assert _said(stranger) == NOT_YOURS
    owner = await bot.turn(activity("message", text=f"notify nudge {notification_id}"))
    assert _said(owner)[0] == "Nudge on its way"


async def test_a_strangers_nudge_button_is_refused_and_does_not_use_up_the_owners_hour(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    click = _as(card_click("nudge", {"verb": "nudge", "notification": notification_id}), STRANGER, "a:x")
    assert card_texts(invoke_body(await bot.turn(click))["value"])[-2:] == NOT_YOURS
    assert await bot.ledger.last_nudge(notification_id) is None
    owner = await bot.turn(activity("message", text=f"notify nudge {notification_id}"))
    assert _said(owner)[0] == "Nudge on its way"


async def test_an_admin_may_nudge(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    turn = await bot.turn(_as(activity("message", text=f"notify nudge {notification_id}"), ADMIN, "a:admin"))
    assert _said(turn)[0] == "Nudge on its way"


async def test_a_strangers_acknowledgement_is_politely_refused_and_not_counted(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    click = _as(card_click("ack", {"verb": "ack", "notification": notification_id}), STRANGER, "a:strangers-chat")
    answer = invoke_body(await bot.turn(click))
    assert card_texts(answer["value"])[-2:] == NOT_SENT
    assert (await bot.ledger.totals(notification_id))["acknowledged"] == 0


async def test_fifty_strangers_acknowledging_count_for_nothing(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    for n in range(50):
        user = f"{n:08x}-1111-2222-3333-444444444444"
        await bot.turn(_as(card_click("ack", {"verb": "ack", "notification": notification_id}), user, f"a:{n}"))
    assert (await bot.ledger.totals(notification_id))["acknowledged"] == 0


async def test_the_recipient_still_acknowledges_after_strangers_tried(bot: OutreachBot) -> None:
    notification_id = await _sent_announcement(bot)
    await bot.turn(_as(card_click("ack", {"verb": "ack", "notification": notification_id}), STRANGER, "a:x"))
    await bot.turn(card_click("ack", {"verb": "ack", "notification": notification_id}))
    await bot.turn(card_click("ack", {"verb": "ack", "notification": notification_id}))
    assert (await bot.ledger.totals(notification_id))["acknowledged"] == 1
