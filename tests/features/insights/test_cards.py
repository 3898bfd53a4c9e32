"""What the insights card shows, from computed insights: changes against the period before, links to questions."""

from __future__ import annotations

from datetime import timedelta

from bot.features.insights.cards import change, duration, insights_card, message_link, unanswered_lines
from bot.features.insights.metrics import compute
from bot.features.insights.store import ChannelMessage, InsightsStore, Root
from bot.platform.cards import CardRenderer
from bot.platform.storage import SqlStore
from tests.support.cards import card_texts
from tests.support.clock import FakeClock

CHANNEL = "19:general@thread.tacv2"


def question(mid: str, snippet: str | None, clock: FakeClock, *, days_ago: int) -> ChannelMessage:
    asked = clock() - timedelta(days=days_ago)
    return ChannelMessage(CHANNEL, mid, "t1", "19:team", mid, False, "ana", "Ana", asked, True, snippet=snippet)


async def test_an_unanswered_question_links_to_its_thread(store: SqlStore, clock: FakeClock) -> None:
    await InsightsStore(store).ingest([question("q1", "Who owns the VPN?", clock, days_ago=2)])
    result = await compute(InsightsStore(store), [CHANNEL], tenant_id="t1", now=clock(), days=7)
    [line] = unanswered_lines(result)
    assert line.startswith(
        "• [Who owns the VPN?](https://teams.microsoft.com/l/message/19%3Ageneral%40thread.tacv2/q1?tenantId=t1"
    )


async def test_a_fresh_question_is_said_to_be_waiting_not_unanswered(store: SqlStore, clock: FakeClock) -> None:
    asked = clock() - timedelta(hours=2)
    fresh = ChannelMessage(CHANNEL, "q2", "t1", "19:team", "q2", False, "ben", "Ben", asked, True, snippet="Where?")
    await InsightsStore(store).ingest([question("q1", "Who owns the VPN?", clock, days_ago=2), fresh])
    result = await compute(InsightsStore(store), [CHANNEL], tenant_id="t1", now=clock(), days=7)
    card = insights_card(CardRenderer(), "Courier", result, title="General", days=7)
    texts = card_texts(card)
    assert "1 fresh question (asked in the last 24 h) still waiting for a first reply." in texts
    assert "Unanswered questions (1)" in texts


async def test_brackets_in_a_question_do_not_break_its_link(store: SqlStore, clock: FakeClock) -> None:
    await InsightsStore(store).ingest([question("q1", "Is [prod] down?", clock, days_ago=2)])
    result = await compute(InsightsStore(store), [CHANNEL], tenant_id="t1", now=clock(), days=7)
    assert unanswered_lines(result)[0].startswith("• [Is (prod) down?](")


def test_the_link_opens_the_thread_of_the_message(clock: FakeClock) -> None:
    root = Root(CHANNEL, "1700000000000", "ana", clock(), True, None, None)
    assert message_link(root, "t1") == (
        "https://teams.microsoft.com/l/message/19%3Ageneral%40thread.tacv2/1700000000000"
        "?tenantId=t1&parentMessageId=1700000000000"
    )


def test_more_messages_than_before_is_good_news() -> None:
    assert change(12, 10) == ("▲ 20%", "Good")


def test_a_slower_first_reply_needs_attention() -> None:
    assert change(30, 20, lower_is_better=True) == ("▲ 50%", "Attention")


def test_nothing_to_compare_with_says_so() -> None:
    assert change(5, None) == ("no earlier data", "Default")


def test_durations_read_in_minutes_and_hours() -> None:
    assert [duration(timedelta(seconds=s)) for s in (40, 600, 3600, 5400)] == ["40 s", "10 min", "1 h", "1 h 30 min"]
