"""The engagement ledger on SQLite and PostgreSQL: reads up to a message, first clicks, reactions, time to read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.platform.messaging.engagement import EngagementFilter, EngagementLedger
from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.storage import SqlStore
from tests.support.clock import DEFAULT_NOW

T0 = DEFAULT_NOW
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": []}
CHAT = "a:ana-chat"


async def _sent(store: SqlStore, key: str, copies: list[tuple[str, str, str]], at: timedelta = timedelta()) -> str:
    """A notification whose deliveries (recipient key, conversation, activity id) were all sent at T0 + ``at``."""
    ledger = OutreachLedger(store.db)
    notification, _ = await ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key=key,
        card=CARD,
        ack_required=True,
        send_at=T0,
        now=T0,
        recipients=[(k, {"userId": k}) for k, _, _ in copies],
    )
    claimed = await ledger.claim_due(T0 + at, limit=100, lease=timedelta(minutes=1))
    mine = {d.recipient_key: d for d in claimed if d.notification_id == notification.id}
    await ledger.mark_sending_many(list(mine.values()), T0 + at)
    await ledger.mark_sent_many([(mine[k], chat, aid) for k, chat, aid in copies], T0 + at)
    return notification.id


async def test_a_chat_read_up_to_a_message_reads_the_copies_sent_before_it(store: SqlStore) -> None:
    engagement = EngagementLedger(store.db)
    earlier = await _sent(store, "a", [("user:ana", CHAT, "1700000000100")])
    later = await _sent(store, "b", [("user:ana", CHAT, "1700000000300")])
    assert await engagement.mark_read(CHAT, "1700000000200", T0 + timedelta(minutes=1)) == 1
    assert (await engagement.totals(earlier)).read == 1
    assert (await engagement.totals(later)).read == 0


async def test_ids_of_different_lengths_compare_as_numbers(store: SqlStore) -> None:
    engagement = EngagementLedger(store.db)
    notification = await _sent(store, "a", [("user:ana", CHAT, "999")])
    assert await engagement.mark_read(CHAT, "1000", T0) == 1
    assert (await engagement.totals(notification)).read == 1


async def test_ids_that_are_not_numbers_compare_by_the_time_they_were_sent(store: SqlStore) -> None:
    engagement = EngagementLedger(store.db)
    first = await _sent(store, "a", [("user:ana", CHAT, "msg-b")])
    second = await _sent(store, "b", [("user:ana", CHAT, "msg-a")], at=timedelta(minutes=5))
    assert await engagement.mark_read(CHAT, "msg-b", T0 + timedelta(minutes=6)) == 1
    assert (await engagement.totals(first)).read == 1
    assert (await engagement.totals(second)).read == 0


async def test_a_read_receipt_in_another_chat_reads_nothing(store: SqlStore) -> None:
    engagement = EngagementLedger(store.db)
    notification = await _sent(store, "a", [("user:ana", CHAT, "1700000000100")])
    assert await engagement.mark_read("a:ben-chat", "1700000000200", T0) == 0
    assert (await engagement.totals(notification)).read == 0


async def test_time_to_read_median_and_p90_are_the_nearest_ranks_within_the_histograms_precision(
    store: SqlStore,
) -> None:
    engagement = EngagementLedger(store.db)
    copies = [(f"user:{n:02d}", f"a:chat-{n:02d}", f"17000000001{n:02d}") for n in range(10)]
    notification = await _sent(store, "a", copies)
    for n, (_, chat, activity_id) in enumerate(copies):  # recipient n reads after n + 1 minutes
        await engagement.mark_read(chat, activity_id, T0 + timedelta(minutes=n + 1))
    totals = await engagement.totals(notification)
    assert (totals.delivered, totals.read) == (10, 10)
    assert totals.read_median_ms == pytest.approx(5 * 60_000, rel=0.025)
    assert totals.read_p90_ms == pytest.approx(9 * 60_000, rel=0.025)


async def test_time_to_read_is_none_until_someone_reads(store: SqlStore) -> None:
    notification = await _sent(store, "a", [("user:ana", CHAT, "1700000000100")])
    totals = await EngagementLedger(store.db).totals(notification)
    assert (totals.read, totals.read_median_ms, totals.read_p90_ms) == (0, None, None)


async def test_only_the_first_click_per_link_counts(store: SqlStore) -> None:
    engagement = EngagementLedger(store.db)
    notification = await _sent(store, "a", [("user:ana", CHAT, "1")])
    assert await engagement.record_click(notification, "user:ana", 0, T0)
    assert not await engagement.record_click(notification, "user:ana", 0, T0 + timedelta(seconds=5))
    assert await engagement.record_click(notification, "user:ana", 1, T0 + timedelta(seconds=9))
    [row] = await engagement.page(notification, where=EngagementFilter(clicked=True), after="", limit=10)
    assert row.clicked_at == T0 and (await engagement.totals(notification)).clicked == 1


async def test_reactions_add_up_per_type(store: SqlStore) -> None:
    engagement = EngagementLedger(store.db)
    notification = await _sent(store, "a", [("channel:t/c", "19:general@thread.tacv2", "1700000000100")])
    found = await engagement.record_reactions("19:general@thread.tacv2", "1700000000100", added=["like"], removed=[])
    await engagement.record_reactions("19:general@thread.tacv2", "1700000000100", added=["like"], removed=["like"])
    assert found == notification
    assert (await engagement.totals(notification)).reactions == {"like": (2, 1)}


async def test_recipients_filter_by_acknowledgement_and_its_negation(store: SqlStore) -> None:
    engagement = EngagementLedger(store.db)
    notification = await _sent(store, "a", [("user:ana", "a:1", "1"), ("user:ben", "a:2", "2")])
    await OutreachLedger(store.db).acknowledge(notification, "ana", T0, conversation_id="a:1")

    async def keys(acknowledged: bool) -> list[str]:
        where = EngagementFilter(acknowledged=acknowledged)
        return [e.delivery.recipient_key for e in await engagement.page(notification, where=where, after="", limit=9)]

    assert await keys(True) == ["user:ana"]
    assert await keys(False) == ["user:ben"]
