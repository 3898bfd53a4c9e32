"""Where delegated sign-in is not configured (no public URL, anonymous), meetings say so instead of failing."""

from __future__ import annotations

from tests.support.bot import Bot
from tests.support.cards import card_texts
from tests.support.turns import activity


async def test_schedule_says_meetings_need_sign_in(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="schedule Retro tomorrow at 10:00"))
    assert "Meetings need sign-in" in turn.texts()


async def test_picking_a_time_says_meetings_need_sign_in(bot: Bot) -> None:
    action = {"type": "Action.Execute", "verb": "meeting.pick", "data": {"verb": "meeting.pick"}}
    turn = await bot.turn(activity("invoke", name="adaptiveCard/action", value={"action": action}))
    answer = turn.state.invoke_response
    assert answer is not None and "Meetings need sign-in" in card_texts(answer.body)


async def test_listing_meetings_needs_no_sign_in(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="meetings"))
    assert "No upcoming meetings" in turn.texts()
