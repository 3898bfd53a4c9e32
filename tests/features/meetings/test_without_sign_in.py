"""Where delegated sign-in is not configured (no public URL, anonymous), meetings say so instead of failing."""

from __future__ import annotations

from tests.support.bot import Bot
from tests.support.cards import card_texts
from tests.support.turns import activity

WHY = "Meetings need your organisation's Microsoft sign-in, and an admin hasn't set it up for Courier yet."


async def test_schedule_says_plainly_that_an_admin_must_set_up_sign_in(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="schedule Retro tomorrow at 10:00"))
    assert "Meetings aren't set up here" in turn.texts() and WHY in turn.texts()
    assert "signin" not in turn.texts().lower()


async def test_schedule_alone_does_not_offer_a_form_that_cannot_work(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="schedule"))
    assert WHY in turn.texts() and "Schedule a meeting" not in turn.texts()


async def test_signin_says_the_same_as_schedule(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="signin"))
    assert WHY in turn.texts()


async def test_the_schedule_dialog_says_so_instead_of_opening_the_form(bot: Bot) -> None:
    value = {"commandId": "scheduleMeeting", "commandContext": "message", "messagePayload": {}}
    turn = await bot.turn(activity("invoke", name="composeExtension/fetchTask", value=value))
    answer = turn.state.invoke_response
    assert answer is not None and answer.body is not None
    assert answer.body["task"]["type"] == "message" and WHY in answer.body["task"]["value"]


async def test_picking_a_time_says_meetings_need_sign_in(bot: Bot) -> None:
    action = {"type": "Action.Execute", "verb": "meeting.pick", "data": {"verb": "meeting.pick"}}
    turn = await bot.turn(activity("invoke", name="adaptiveCard/action", value={"action": action}))
    answer = turn.state.invoke_response
    assert answer is not None and WHY in " ".join(card_texts(answer.body))


async def test_listing_meetings_needs_no_sign_in(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="meetings"))
    assert "No upcoming meetings" in turn.texts()
