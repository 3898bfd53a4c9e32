"""Channel messages arriving through the real router become insights; edits and deletes are applied; the card."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.features.insights.store import InsightsStore
from bot.features.reminders.store import ReminderStore
from bot.platform.settings import Settings
from tests.support.bot import Bot, make_bot
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.turns import activity

CHANNEL = "19:general@thread.tacv2"


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Bot]:
    made = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True), clock=clock)
    yield made
    await made.store.close()


def post(mid: str, text: str, *, who: str, root: str | None = None, **extra: Any) -> dict[str, Any]:
    conversation = f"{CHANNEL};messageid={root or mid}"
    data = activity(
        "message", text=text, conversation_type="channel", conversation_id=conversation, activity_id=mid, **extra
    )
    data["from"] = {"id": f"29:{who}", "name": who.title(), "aadObjectId": f"{who}-aad"}
    if root is not None:
        data["replyToId"] = root  # as Teams sends a reply in a thread
    return data


async def count(bot: Bot) -> int:
    return int(await bot.store.db.fetchval("SELECT COUNT(*) FROM channel_messages WHERE deleted = 0"))


async def test_every_channel_message_is_ingested_once_with_its_thread(bot: Bot) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    await bot.turn(post("m2", "With the pipeline", who="ben", root="m1"))
    await bot.turn(post("m2", "With the pipeline", who="ben", root="m1"))  # Teams redelivers
    assert await count(bot) == 2
    row = await bot.store.db.fetchrow("SELECT thread_id, is_reply FROM channel_messages WHERE message_id = 'm2'")
    assert row is not None and row["thread_id"] == "m1" and row["is_reply"] == 1
    question = await bot.store.db.fetchval("SELECT is_question FROM channel_messages WHERE message_id = 'm1'")
    assert question == 1


async def test_edits_and_deletes_are_applied(bot: Bot) -> None:
    await bot.turn(post("m1", "Release notes are out", who="ana"))
    edit = post("m1", "Are the release notes out?", who="ana")
    edit["type"] = "messageUpdate"
    await bot.turn(edit)
    assert await bot.store.db.fetchval("SELECT is_question FROM channel_messages WHERE message_id = 'm1'") == 1
    removal = post("m1", "", who="ana")
    removal["type"] = "messageDelete"
    await bot.turn(removal)
    assert await count(bot) == 0


async def test_insights_in_the_channel_answers_with_the_card(bot: Bot, clock: FakeClock) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    await bot.turn(post("m2", "With the pipeline", who="ben", root="m1"))
    clock.advance(minutes=5)
    turn = await bot.turn(activity("message", text="insights", conversation_type="channel", mention_bot=True))
    card = turn.sent[-1].message.card
    assert card is not None
    texts = " ".join(card_texts(card))
    assert "last 7 days" in texts and "messages" in texts and "Ana" in texts


async def test_an_unknown_period_is_answered(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="insights 12y", conversation_type="channel", mention_bot=True))
    assert "Which period?" in " ".join(card_texts(turn.sent[-1].message.card or {}))


async def test_the_weekly_digest_is_scheduled_for_monday_and_draws_the_insights_card(bot: Bot) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    on = await bot.turn(
        activity(
            "message",
            text="insights weekly on",
            conversation_type="channel",
            mention_bot=True,
            localTimezone="Europe/Paris",
        )
    )
    assert "Every Monday at 09:00 (Europe/Paris)" in " ".join(card_texts(on.sent[-1].message.card or {}))
    digest = await ReminderStore(bot.store.db).find_kind(CHANNEL, "insights_digest")
    assert (
        digest is not None and digest.rule == "FREQ=WEEKLY;BYDAY=MO" and digest.due_at.astimezone().weekday() in (0, 6)
    )
    card = await bot.services.signals.scheduled_cards["insights_digest"](digest)
    assert "Weekly digest" in " ".join(card_texts(card))
    await bot.turn(activity("message", text="insights weekly off", conversation_type="channel", mention_bot=True))
    assert await ReminderStore(bot.store.db).find_kind(CHANNEL, "insights_digest") is None


async def test_reactions_are_counted_on_the_message(bot: Bot) -> None:
    await bot.turn(post("m1", "Shipped!", who="ana"))
    reacted = post("r-1", "", who="ben", root="m1")
    reacted["type"] = "messageReaction"
    reacted["reactionsAdded"] = [{"type": "like"}, {"type": "heart"}]
    await bot.turn(reacted)
    assert await bot.store.db.fetchval("SELECT reactions FROM channel_messages WHERE message_id = 'm1'") == 2


async def test_an_unanswered_question_links_to_its_thread(bot: Bot) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.features.insights.commands import render
    from bot.features.insights.metrics import compute
    from bot.features.insights.store import ChannelMessage

    asked = datetime.now(UTC) - timedelta(days=2)
    await InsightsStore(bot.store.db).ingest(
        [
            ChannelMessage(
                CHANNEL,
                "q1",
                "t1",
                "19:team",
                "q1",
                False,
                "ana",
                "Ana",
                asked,
                is_question=True,
                snippet="Who owns the VPN?",
            )
        ]
    )
    result = await compute(InsightsStore(bot.store.db), [CHANNEL], tenant_id="t1", now=datetime.now(UTC), days=7)
    card = render(bot.services, result, title="General", days=7, members=None)
    assert (
        "[Who owns the VPN?](https://teams.microsoft.com/l/message/19%3Ageneral%40thread.tacv2/q1?tenantId=t1"
        in str(card)
    )
