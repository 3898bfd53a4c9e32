"""``notify status``, ``notify nudge`` and the status card's Nudge button, for announcement senders in Teams."""

from __future__ import annotations

from typing import Any

from tests.features.outreach.rig import OutreachBot, announce, card_click, deliver_everything, invoke_body
from tests.support.cards import card_texts
from tests.support.turns import RecordingTurn, activity

OTHER_AAD = "bbbbbbbb-1111-2222-3333-444444444444"


def _facts(card: dict[str, Any]) -> dict[str, str]:
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    return {f["title"]: f["value"] for f in facts}


def _reply(turn: RecordingTurn) -> dict[str, Any]:
    assert len(turn.sent) == 1 and turn.sent[0].message.card is not None
    return turn.sent[0].message.card


def _notice(turn: RecordingTurn) -> list[str]:
    """The title and the sentence of the notice card the bot answered with."""
    return card_texts(_reply(turn))[-2:]


async def _command(bot: OutreachBot, text: str) -> RecordingTurn:
    return await bot.turn(activity("message", text=text))


async def test_status_of_a_queued_notification_counts_it_queued(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    card = _reply(await _command(sender_bot, f"notify status {notification_id}"))
    assert _facts(card) == {"Sent": "0", "Acknowledged": "0", "Queued": "1"}


async def test_status_shows_the_share_of_acknowledgements_once_sent(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await deliver_everything(sender_bot)
    await sender_bot.turn(card_click("ack", {"verb": "ack", "notification": notification_id}))
    card = _reply(await _command(sender_bot, f"notify status {notification_id}"))
    assert _facts(card) == {"Sent": "1", "Acknowledged": "1 (100%)"}


async def test_status_names_the_notification_and_offers_a_nudge(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    card = _reply(await _command(sender_bot, f"notify status {notification_id}"))
    assert f"Notification {notification_id[:8]} · created Tue Mar 10, 10:00 (UTC)" in card_texts(card)
    assert [a["data"] for a in card["actions"]] == [{"verb": "nudge", "notification": notification_id}]


async def test_status_without_acknowledgements_neither_counts_them_nor_offers_a_nudge(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot, ack=False)
    card = _reply(await _command(sender_bot, f"notify status {notification_id}"))
    assert _facts(card) == {"Sent": "0", "Queued": "1"}
    assert "actions" not in card


async def test_status_of_an_unknown_id_says_which_id_to_give(sender_bot: OutreachBot) -> None:
    turn = await _command(sender_bot, "notify status 0123")
    assert _notice(turn) == [
        "No such notification",
        "I know no notification “0123”. Give the id the API returned, or the short id on its status card, "
        "e.g. notify status 3f2a9c…",
    ]


async def test_the_status_card_is_titled_with_the_announcements_title_not_its_text(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot, title="Office closed Friday")
    card = _reply(await _command(sender_bot, f"notify status {notification_id}"))
    assert card_texts(card)[2] == "Office closed Friday"  # the header's title, after the icon and the app name
    assert "Maintenance all day." not in card_texts(card)


async def test_status_accepts_the_short_id_its_card_shows(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    card = _reply(await _command(sender_bot, f"notify status {notification_id[:8]}"))
    assert f"Notification {notification_id[:8]} · created Tue Mar 10, 10:00 (UTC)" in card_texts(card)


async def test_status_shows_times_in_my_zone(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    message = activity("message", text=f"notify status {notification_id}", localTimezone="Europe/Paris")
    card = _reply(await sender_bot.turn(message))
    assert f"Notification {notification_id[:8]} · created Tue Mar 10, 11:00 (Europe/Paris)" in card_texts(card)


async def test_status_without_an_id_lists_my_recent_announcements(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot, title="Office closed Friday")
    title, text = _notice(await _command(sender_bot, "notify status"))
    assert title == "Your recent announcements"
    assert f"{notification_id[:8]} · Office closed Friday · Tue Mar 10, 10:00 (UTC)" in text


async def test_status_without_an_id_and_nothing_sent_says_how_to_ask(sender_bot: OutreachBot) -> None:
    assert _notice(await _command(sender_bot, "notify status")) == [
        "Which notification?",
        "Give its id, e.g. notify status 3f2a9c…",
    ]


async def test_someone_who_is_not_a_sender_may_not_see_a_status(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    message = activity("message", text=f"notify status {notification_id}")
    message["from"]["aadObjectId"] = OTHER_AAD
    turn = await sender_bot.turn(message)
    assert _notice(turn) == ["Only announcement senders can do that", "Ask your Courier admin to add you."]


async def test_without_a_senders_list_anyone_with_the_id_may_see_a_status(everyone_bot: OutreachBot) -> None:
    turn = await _command(everyone_bot, "notify status 0123")
    assert _notice(turn)[0] == "No such notification"


async def test_a_nudge_reminds_who_has_not_acknowledged(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await deliver_everything(sender_bot)
    turn = await _command(sender_bot, f"notify nudge {notification_id}")
    assert _notice(turn) == ["Nudge on its way", "A reminder goes to 1 person who has not acknowledged yet."]


async def test_a_second_nudge_within_the_hour_says_when_it_may_be(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await deliver_everything(sender_bot)
    await _command(sender_bot, f"notify nudge {notification_id}")
    sender_bot.clock.advance(minutes=59)
    turn = await _command(sender_bot, f"notify nudge {notification_id}")
    assert _notice(turn) == ["Not nudged", "It was nudged at 10:00 UTC; nudge again after 11:00 UTC."]


async def test_an_hour_later_it_may_be_nudged_again(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await deliver_everything(sender_bot)
    await _command(sender_bot, f"notify nudge {notification_id}")
    sender_bot.clock.advance(hours=1)
    turn = await _command(sender_bot, f"notify nudge {notification_id}")
    assert _notice(turn)[0] == "Nudge on its way"


async def test_when_everyone_acknowledged_nobody_is_nudged(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await deliver_everything(sender_bot)
    await sender_bot.turn(card_click("ack", {"verb": "ack", "notification": notification_id}))
    turn = await _command(sender_bot, f"notify nudge {notification_id}")
    assert _notice(turn) == ["Nobody to nudge", "Everyone it reached has acknowledged."]


async def test_a_nudge_that_reached_nobody_does_not_count_against_the_hour(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await _command(sender_bot, f"notify nudge {notification_id}")  # nothing was sent yet: nobody to nudge
    await deliver_everything(sender_bot)
    turn = await _command(sender_bot, f"notify nudge {notification_id}")
    assert _notice(turn)[0] == "Nudge on its way"


async def test_a_notification_without_acknowledgements_is_not_nudged(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot, ack=False)
    turn = await _command(sender_bot, f"notify nudge {notification_id}")
    assert _notice(turn) == [
        "Not nudged",
        "This notification did not ask for acknowledgements, so there is nobody to nudge.",
    ]


async def test_the_nudge_button_shows_the_status_again_with_what_it_did(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    await deliver_everything(sender_bot)
    click = card_click("nudge", {"verb": "nudge", "notification": notification_id})
    card = invoke_body(await sender_bot.turn(click))["value"]
    assert _facts(card)["Sent"] == "1"
    note = card_texts(card["body"])[-1]
    assert note == "Nudge on its way. A reminder goes to 1 person who has not acknowledged yet."


async def test_the_nudge_button_of_an_unknown_notification_refuses(sender_bot: OutreachBot) -> None:
    click = card_click("nudge", {"verb": "nudge", "notification": "no-such-notification"})
    card = invoke_body(await sender_bot.turn(click))["value"]
    assert card_texts(card)[-2:] == ["Cannot nudge", "Unknown or not yours."]


async def test_the_nudge_button_refuses_someone_who_is_not_a_sender(sender_bot: OutreachBot) -> None:
    notification_id = await announce(sender_bot)
    click = card_click("nudge", {"verb": "nudge", "notification": notification_id})
    click["from"]["aadObjectId"] = OTHER_AAD
    card = invoke_body(await sender_bot.turn(click))["value"]
    assert card_texts(card)[-2:] == ["Only announcement senders can do that", "Ask your Courier admin to add you."]
