"""Metric definitions on a small hand-made channel whose answers are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.features.insights.metrics import Insights, compute
from bot.features.insights.store import ChannelMessage, InsightsStore
from bot.platform.storage import SqlStore

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHANNEL = "19:eng@thread.tacv2"
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
ANA, BEN, CARLA = "ana", "ben", "carla"
NAMES = {ANA: "Ana Diaz", BEN: "Ben Ito", CARLA: "Carla Ruiz"}


def msg(mid: str, who: str, at: datetime, *, thread: str | None = None, question: bool = False) -> ChannelMessage:
    return ChannelMessage(
        channel_id=CHANNEL,
        message_id=mid,
        tenant_id=TENANT,
        team_id="19:team",
        thread_id=thread or mid,
        is_reply=thread is not None,
        author_id=who,
        author_name=NAMES[who],
        created_at=at,
        is_question=question,
        snippet=f"message {mid}",
    )


def day(d: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, d, h, m, tzinfo=UTC)


CHANNEL_MESSAGES = [
    msg("r1", ANA, day(17, 9), question=True),  # How do we deploy?
    msg("r1a", ANA, day(17, 9, 5), thread="r1"),  # the author's own follow-up is not an answer
    msg("r1b", BEN, day(17, 9, 20), thread="r1"),  # first reply by someone else: 20 min
    msg("r1c", CARLA, day(17, 10), thread="r1"),
    msg("r1d", BEN, day(20, 10), thread="r1"),  # deleted below
    msg("r2", BEN, day(18, 10)),
    msg("r2a", ANA, day(18, 11), thread="r2"),  # 60 min
    msg("r3", CARLA, day(19, 14), question=True),  # never answered, older than 24 h
    msg("r4", ANA, day(23, 20), question=True),  # unanswered but only 12 h old
    msg("p1", BEN, day(12, 9)),  # the previous week
    msg("p2", ANA, day(12, 9, 30), thread="p1"),
]


@pytest.fixture
async def channel(store: SqlStore) -> SqlStore:
    await InsightsStore(store).ingest(CHANNEL_MESSAGES)
    await InsightsStore(store).deleted(CHANNEL, "r1d")
    return store


async def week(store: SqlStore) -> Insights:
    return await compute(InsightsStore(store), [CHANNEL], tenant_id=TENANT, now=NOW, days=7)


async def test_messages_threads_and_replies_leave_deleted_ones_out(channel: SqlStore) -> None:
    insights = await week(channel)
    assert (insights.messages, insights.threads, insights.replies, insights.active) == (8, 4, 4, 3)


async def test_first_reply_times_count_only_replies_by_someone_else(channel: SqlStore) -> None:
    insights = await week(channel)
    assert insights.first_reply_median == timedelta(minutes=40)
    assert insights.first_reply_p90 == timedelta(minutes=60)


async def test_unanswered_questions_are_those_older_than_a_day(channel: SqlStore) -> None:
    insights = await week(channel)
    assert [q.message_id for q in insights.unanswered] == ["r3"]


async def test_top_contributors_and_busiest_times(channel: SqlStore) -> None:
    insights = await week(channel)
    assert [(c.name, c.messages) for c in insights.top] == [("Ana Diaz", 4), ("Ben Ito", 2), ("Carla Ruiz", 2)]
    assert insights.busiest_day == "Tuesday" and insights.busiest_hour == 9


async def test_people_who_opted_out_are_counted_but_not_named(channel: SqlStore) -> None:
    await InsightsStore(channel).set_optout(TENANT, CARLA, NOW, out=True)
    insights = await week(channel)
    assert ("Someone (opted out)", 2) in [(c.name, c.messages) for c in insights.top]
    assert "Carla Ruiz" not in [c.name for c in insights.top] and insights.active == 3


async def test_the_previous_period_is_measured_the_same_way(channel: SqlStore) -> None:
    insights = await week(channel)
    assert insights.previous is not None and insights.previous.messages == 2


async def test_ingesting_the_same_message_twice_counts_it_once(channel: SqlStore) -> None:
    await InsightsStore(channel).ingest(CHANNEL_MESSAGES[:3])
    assert (await week(channel)).messages == 8


async def test_removing_courier_from_the_team_purges_its_messages(channel: SqlStore) -> None:
    assert await InsightsStore(channel).purge_team("19:team") == len(CHANNEL_MESSAGES)
    assert (await week(channel)).messages == 0


async def test_retention_purges_what_is_older_than_the_window(channel: SqlStore) -> None:
    purged = await InsightsStore(channel).purge_before(day(18, 0))
    assert purged == 6  # the thread started on the 17th (its root and three replies) and the previous week's two
    remaining = await week(channel)
    assert remaining.messages == 4
