"""The weekly digest: ``insights weekly on|off`` schedules or cancels a job of the platform scheduler; when it falls
due the channel gets the 7-day card, and the job comes back the next Monday at 09:00 in the zone it was set in."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.features.insights import digest
from tests.features.insights.rig import InsightsBot
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.turns import BOT_ID, TENANT, activity

CHANNEL = "19:general@thread.tacv2"
PARIS = "Europe/Paris"
# The fake clock starts on Tuesday 2026-03-10; Paris is on UTC+1 until the last Sunday of March.
FIRST_MONDAY = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
SECOND_MONDAY = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
AFTER_DST = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 in Paris on summer time


async def install(rig: InsightsBot) -> None:
    await rig.bot.turn(rig.in_channel("conversationUpdate", membersAdded=[{"id": BOT_ID}]))


async def ask(rig: InsightsBot, text: str) -> str:
    """What Courier answers in the channel, said by someone in Paris."""
    turn = await rig.bot.turn(rig.in_channel(text=text, mention_bot=True, localTimezone=PARIS))
    return " ".join(card_texts(turn.sent[-1].message.card or {}))


async def test_weekly_on_schedules_the_digest_for_next_monday_at_nine_in_the_askers_zone(
    insights_bot: InsightsBot,
) -> None:
    await ask(insights_bot, "insights weekly on")
    job = await insights_bot.services.jobs.get(digest.KIND, CHANNEL)
    assert job is not None
    assert (job.due_at, job.tenant_id, job.payload) == (FIRST_MONDAY, TENANT, {"zone": PARIS, "locale": "en-US"})


async def test_weekly_on_says_when_the_digest_comes(insights_bot: InsightsBot) -> None:
    assert "Every Monday at 09:00 (Europe/Paris), starting Mar 16." in await ask(insights_bot, "insights weekly on")


async def test_weekly_on_twice_keeps_the_one_digest(insights_bot: InsightsBot) -> None:
    await ask(insights_bot, "insights weekly on")
    assert "Weekly digest already on" in await ask(insights_bot, "insights weekly on")


async def test_weekly_off_cancels_the_digest(insights_bot: InsightsBot) -> None:
    await ask(insights_bot, "insights weekly on")
    assert "Weekly digest off" in await ask(insights_bot, "insights weekly off")
    assert await insights_bot.services.jobs.get(digest.KIND, CHANNEL) is None


async def test_weekly_with_another_word_explains_the_switch(insights_bot: InsightsBot) -> None:
    assert "Say insights weekly on, or insights weekly off." in await ask(insights_bot, "insights weekly maybe")


async def test_the_digest_is_for_channels(insights_bot: InsightsBot) -> None:
    turn = await insights_bot.bot.turn(activity("message", text="insights weekly on"))
    assert "The digest is for channels" in " ".join(card_texts(turn.sent[-1].message.card or {}))


async def test_a_due_digest_posts_the_weekly_card_to_the_channel(insights_bot: InsightsBot, clock: FakeClock) -> None:
    await install(insights_bot)
    await ask(insights_bot, "insights weekly on")
    clock.set(FIRST_MONDAY)
    assert await insights_bot.services.jobs.tick() == 1
    [card] = insights_bot.posted(CHANNEL)
    assert "Weekly digest · General · last 7 days" in card_texts(card)


async def test_a_posted_digest_comes_back_next_monday_at_nine_across_the_clock_change(
    insights_bot: InsightsBot, clock: FakeClock
) -> None:
    await install(insights_bot)
    await ask(insights_bot, "insights weekly on")
    for monday in (FIRST_MONDAY, SECOND_MONDAY):
        clock.set(monday)
        await insights_bot.services.jobs.tick()
    job = await insights_bot.services.jobs.get(digest.KIND, CHANNEL)
    assert job is not None and job.due_at == AFTER_DST


async def test_a_digest_for_a_channel_courier_is_not_in_ends(insights_bot: InsightsBot, clock: FakeClock) -> None:
    await ask(insights_bot, "insights weekly on")  # never installed: nowhere to post
    clock.set(FIRST_MONDAY)
    await insights_bot.services.jobs.tick()
    assert insights_bot.connector.activities() == []
    assert await insights_bot.services.jobs.get(digest.KIND, CHANNEL) is None
