"""The Acknowledge button: who clicked is counted once, and the card becomes the content and when they acknowledged."""

from __future__ import annotations

from typing import Any

from tests.features.outreach.rig import OutreachBot, announce, card_click, invoke_body
from tests.support.cards import card_texts

OTHER_AAD = "bbbbbbbb-1111-2222-3333-444444444444"


def _ack(notification_id: str, **extra: Any) -> dict[str, Any]:
    return card_click("ack", {"verb": "ack", "notification": notification_id}, **extra)


async def test_acknowledging_shows_the_content_and_the_time_in_the_clickers_zone(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    answer = invoke_body(await sender_bot.turn(_ack(notification_id, localTimezone="Europe/Paris")))
    texts = card_texts(answer["value"])
    assert "Office closed Friday" in texts and "Maintenance all day." in texts
    assert texts[-1] == "✔ Acknowledged at Mar 10, 11:00 (Europe/Paris)"


async def test_without_a_zone_the_time_is_in_utc(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    answer = invoke_body(await sender_bot.turn(_ack(notification_id)))
    assert card_texts(answer["value"])[-1] == "✔ Acknowledged at Mar 10, 10:00 (UTC)"


async def test_the_acknowledged_card_has_no_button_left(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    answer = invoke_body(await sender_bot.turn(_ack(notification_id)))
    assert "actions" not in answer["value"]


async def test_a_second_click_by_the_same_person_is_not_counted_again(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await sender_bot.turn(_ack(notification_id))
    await sender_bot.turn(_ack(notification_id))
    assert (await sender_bot.ledger.totals(notification_id))["acknowledged"] == 1


async def test_each_person_who_clicks_is_counted(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await sender_bot.turn(_ack(notification_id))
    other = _ack(notification_id)
    other["from"]["aadObjectId"] = OTHER_AAD
    await sender_bot.turn(other)
    assert (await sender_bot.ledger.totals(notification_id))["acknowledged"] == 2


async def test_acknowledging_an_unknown_notification_says_it_is_gone(sender_bot: OutreachBot) -> None:
    answer = invoke_body(await sender_bot.turn(_ack("no-such-notification")))
    assert card_texts(answer["value"])[-2:] == ["This announcement is gone", "It may have been cancelled."]
