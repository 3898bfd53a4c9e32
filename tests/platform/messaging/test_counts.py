"""The maintained counts of a notification agree with counting its deliveries, through every kind of change."""

from __future__ import annotations

from datetime import timedelta

from bot.platform.messaging.counts import NotificationCounts, bucket_value, quantile_ms, read_bucket
from bot.platform.messaging.ledger import DeliveryState, OutreachLedger
from bot.platform.storage import SqlStore
from tests.support.clock import DEFAULT_NOW

T0 = DEFAULT_NOW
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LEASE = timedelta(minutes=1)


async def _counted(store: SqlStore, notification_id: str) -> dict[str, int]:
    rows = await store.db.fetch(
        "SELECT state, COALESCE(reason, '') AS reason, COUNT(*) AS n FROM deliveries WHERE notification_id = $1 "
        "GROUP BY state, COALESCE(reason, '')",
        notification_id,
    )
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["state"]] = totals.get(row["state"], 0) + int(row["n"])
        if row["state"] == "failed" and row["reason"]:
            totals[f"failed:{row['reason']}"] = int(row["n"])
    return totals


async def test_the_maintained_totals_equal_the_counted_ones_through_a_notifications_life(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    notification, _ = await ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="k",
        card={"type": "AdaptiveCard", "version": "1.5", "body": []},
        ack_required=True,
        send_at=T0,
        now=T0,
        recipients=[(f"user:{n}", {"userId": str(n)}) for n in range(8)],
    )
    claimed = await ledger.claim_due(T0, limit=6, lease=LEASE)
    await ledger.mark_sending_many(claimed[:4], T0)
    await ledger.mark_sent_many([(d, "a:1", str(n)) for n, d in enumerate(claimed[:2])], T0)
    await ledger.mark_final(claimed[4], DeliveryState.FAILED, T0, reason="blocked")
    await ledger.mark_retry(claimed[5], T0, at=T0 + LEASE, reason="throttled")
    await ledger.fold_counts()
    await ledger.recover(T0 + timedelta(hours=1))  # the two still sending become maybe_delivered
    await ledger.cancel(notification.id, T0)
    await ledger.acknowledge(notification.id, "0", T0, conversation_id="a:1")
    expected = await _counted(store, notification.id)
    assert await ledger.totals(notification.id) == {**expected, "acknowledged": 1}


async def test_folding_changes_nothing_a_reader_sees(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    notification, _ = await ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="k",
        card={},
        ack_required=False,
        send_at=T0,
        now=T0,
        recipients=[(f"user:{n}", {"userId": str(n)}) for n in range(200)],
    )
    before = await NotificationCounts(store.db).read(notification.id)
    assert await ledger.fold_counts() == 200  # one change row per queued delivery
    assert await NotificationCounts(store.db).read(notification.id) == before == {("queued", ""): 200}


def test_read_buckets_stand_for_their_times_within_two_and_a_half_percent() -> None:
    for ms in (1_000, 1_500, 60_000, 3_600_000, 86_400_000):
        assert abs(bucket_value(read_bucket(ms)) - ms) / ms <= 0.025
    assert quantile_ms({}, 0.5) is None
    assert quantile_ms({read_bucket(2_000): 1, read_bucket(900_000): 3}, 0.5) == bucket_value(read_bucket(900_000))
