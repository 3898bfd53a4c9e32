"""The outreach ledger on SQLite and PostgreSQL: idempotent creation, atomic claims, exactly-once transitions."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

from bot.platform.messaging.ledger import DeliveryState, OutreachLedger
from bot.platform.storage import SqlStore, open_store
from tests.support.clock import DEFAULT_NOW

T0 = DEFAULT_NOW  # the fake clock's now: every time here is relative to it
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LEASE = timedelta(seconds=60)
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": []}


def _recipients(count: int) -> list[tuple[str, dict[str, str]]]:
    return [(f"user:{n:06d}", {"userId": f"{n:06d}"}) for n in range(count)]


async def _notify(ledger: OutreachLedger, count: int, key: str = "k1", send_at: datetime = T0) -> str:
    notification, created = await ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key=key,
        card=CARD,
        ack_required=True,
        send_at=send_at,
        now=T0,
        recipients=_recipients(count),
    )
    assert created
    return notification.id


async def test_the_same_idempotency_key_returns_the_same_notification(store: SqlStore) -> None:
    first = await _notify(OutreachLedger(store.db), 3)
    again, created = await OutreachLedger(store.db).create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="k1",
        card=CARD,
        ack_required=False,
        send_at=T0,
        now=T0,
        recipients=_recipients(10),
    )
    assert not created and again.id == first
    assert (await OutreachLedger(store.db).totals(first))["queued"] == 3


async def test_duplicate_recipients_are_queued_once(store: SqlStore) -> None:
    nid = await _notify(OutreachLedger(store.db), 2)
    added = await OutreachLedger(store.db).add_recipients(nid, TENANT, _recipients(5), send_at=T0, now=T0)
    assert added == 3
    assert (await OutreachLedger(store.db).totals(nid))["queued"] == 5


async def test_claims_take_only_due_deliveries(store: SqlStore) -> None:
    await _notify(OutreachLedger(store.db), 3, key="later", send_at=T0 + timedelta(hours=1))
    await _notify(OutreachLedger(store.db), 2, key="now")
    claimed = await OutreachLedger(store.db).claim_due(T0, limit=10, lease=LEASE)
    assert len(claimed) == 2
    assert all(d.state is DeliveryState.CLAIMED for d in claimed)


async def test_concurrent_claims_never_share_a_delivery(database_url: str) -> None:
    stores = [await open_store(database_url) for _ in range(3)]
    try:
        await _notify(OutreachLedger(stores[0].db), 60)
        batches = await asyncio.gather(
            *(OutreachLedger(s.db).claim_due(T0, limit=25, lease=LEASE) for s in stores for _ in range(2))
        )
        keys = [d.recipient_key for batch in batches for d in batch]
        assert len(keys) == len(set(keys)) == 60
    finally:
        for s in stores:
            await s.close()


async def test_only_the_claim_holder_may_start_sending_and_only_once(store: SqlStore) -> None:
    await _notify(OutreachLedger(store.db), 1)
    (delivery,) = await OutreachLedger(store.db).claim_due(T0, limit=1, lease=LEASE)
    forged = dataclasses.replace(delivery, claim_token="someone-else")
    assert not await OutreachLedger(store.db).mark_sending(forged, T0)
    assert await OutreachLedger(store.db).mark_sending(delivery, T0)
    assert not await OutreachLedger(store.db).mark_sending(delivery, T0)


async def test_a_sent_delivery_is_final_and_counted(store: SqlStore) -> None:
    nid = await _notify(OutreachLedger(store.db), 1)
    (delivery,) = await OutreachLedger(store.db).claim_due(T0, limit=1, lease=LEASE)
    await OutreachLedger(store.db).mark_sending(delivery, T0)
    assert await OutreachLedger(store.db).mark_sent(delivery, T0, conversation_id="a:1", activity_id="m1")
    assert not await OutreachLedger(store.db).mark_sent(delivery, T0, conversation_id="a:1", activity_id="m1")
    assert await OutreachLedger(store.db).claim_due(T0 + timedelta(hours=1), limit=5, lease=LEASE) == []
    assert (await OutreachLedger(store.db).totals(nid))["sent"] == 1


async def test_a_retry_goes_back_to_the_queue_at_its_time(store: SqlStore) -> None:
    await _notify(OutreachLedger(store.db), 1)
    (delivery,) = await OutreachLedger(store.db).claim_due(T0, limit=1, lease=LEASE)
    await OutreachLedger(store.db).mark_sending(delivery, T0)
    assert await OutreachLedger(store.db).mark_retry(delivery, T0, at=T0 + timedelta(seconds=5), reason="throttled")
    assert await OutreachLedger(store.db).claim_due(T0 + timedelta(seconds=1), limit=1, lease=LEASE) == []
    (again,) = await OutreachLedger(store.db).claim_due(T0 + timedelta(seconds=5), limit=1, lease=LEASE)
    assert again.attempts == 1 and again.reason == "throttled"


async def test_recovery_requeues_claims_and_never_resends_what_was_sending(store: SqlStore) -> None:
    nid = await _notify(OutreachLedger(store.db), 2)
    claimed = await OutreachLedger(store.db).claim_due(T0, limit=2, lease=LEASE)
    await OutreachLedger(store.db).mark_sending(claimed[0], T0)  # the request may have left when the process died
    requeued, maybe = await OutreachLedger(store.db).recover(T0 + LEASE + timedelta(seconds=1))
    assert (requeued, maybe) == (1, 1)
    totals = await OutreachLedger(store.db).totals(nid)
    assert totals["queued"] == 1 and totals["maybe_delivered"] == 1


async def test_permanent_failures_are_counted_by_reason(store: SqlStore) -> None:
    nid = await _notify(OutreachLedger(store.db), 2)
    for delivery in await OutreachLedger(store.db).claim_due(T0, limit=2, lease=LEASE):
        await OutreachLedger(store.db).mark_sending(delivery, T0)
        await OutreachLedger(store.db).mark_final(delivery, DeliveryState.FAILED, T0, reason="blocked")
    totals = await OutreachLedger(store.db).totals(nid)
    assert totals["failed"] == 2 and totals["failed:blocked"] == 2


async def test_an_acknowledgement_is_recorded_once(store: SqlStore) -> None:
    nid = await _notify(OutreachLedger(store.db), 1)
    (delivery,) = await OutreachLedger(store.db).claim_due(T0, limit=1, lease=LEASE)
    await OutreachLedger(store.db).mark_sending(delivery, T0)
    await OutreachLedger(store.db).mark_sent(delivery, T0, conversation_id="a:1", activity_id="m1")
    user = delivery.recipient["userId"]
    assert await OutreachLedger(store.db).acknowledge(nid, user, T0)
    assert not await OutreachLedger(store.db).acknowledge(nid, user, T0)
    assert (await OutreachLedger(store.db).totals(nid))["acknowledged"] == 1


async def test_a_channel_post_is_acknowledged_once_by_each_reader(store: SqlStore) -> None:
    notification, _ = await OutreachLedger(store.db).create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="channel",
        card={"type": "AdaptiveCard", "version": "1.5", "body": []},
        ack_required=True,
        send_at=T0,
        now=T0,
        recipients=[("channel:19:t/19:c", {"channel": {"teamId": "19:t", "channelId": "19:c"}})],
    )
    (delivery,) = await OutreachLedger(store.db).claim_due(T0, limit=1, lease=LEASE)
    await OutreachLedger(store.db).mark_sending(delivery, T0)
    await OutreachLedger(store.db).mark_sent(delivery, T0, conversation_id="19:c", activity_id="m1")
    for reader in ("u1", "u2", "u1"):
        await OutreachLedger(store.db).acknowledge(notification.id, reader, T0, conversation_id="19:c")
    assert (await OutreachLedger(store.db).totals(notification.id))["acknowledged"] == 2


async def test_cancel_stops_what_has_not_been_sent(store: SqlStore) -> None:
    nid = await _notify(OutreachLedger(store.db), 3)
    (first,) = await OutreachLedger(store.db).claim_due(T0, limit=1, lease=LEASE)
    assert await OutreachLedger(store.db).cancel(nid, T0) == 2
    assert await OutreachLedger(store.db).claim_due(T0, limit=5, lease=LEASE) == []
    assert (await OutreachLedger(store.db).totals(nid))["cancelled"] == 2
    assert first.state is DeliveryState.CLAIMED


async def test_recipients_page_with_a_cursor(store: SqlStore) -> None:
    nid = await _notify(OutreachLedger(store.db), 5)
    first = await OutreachLedger(store.db).page(nid, state=None, after="", limit=2)
    second = await OutreachLedger(store.db).page(nid, state=None, after=first[-1].recipient_key, limit=10)
    assert [d.recipient_key for d in first + second] == [k for k, _ in _recipients(5)]


async def test_a_small_notification_queued_behind_a_broadcast_is_claimed_first(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    broadcast = await _notify(ledger, 300, key="broadcast", send_at=T0 - timedelta(minutes=5))
    small = await _notify(ledger, 2, key="small")
    claimed = await ledger.claim_due(T0, limit=2, lease=LEASE)
    assert {d.notification_id for d in claimed} == {small}
    assert all(d.lane == 0 for d in claimed)
    rest = await ledger.claim_due(T0, limit=5, lease=LEASE)
    assert {d.notification_id for d in rest} == {broadcast} and all(d.lane == 1 for d in rest)


async def _broadcast(ledger: OutreachLedger, tenant: str, key: str, count: int, send_at: datetime) -> str:
    notification, _ = await ledger.create_notification(
        tenant_id=tenant,
        sender="api:test",
        idempotency_key=key,
        card=CARD,
        ack_required=False,
        send_at=send_at,
        now=T0,
        recipients=_recipients(count),
    )
    return notification.id


OTHER_TENANT = "b2f988bf-86f1-41af-91ab-2d7cd011db47"


async def test_a_claim_of_the_priority_lane_takes_no_broadcast(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    await _broadcast(ledger, TENANT, "first", 150, T0 - timedelta(minutes=5))
    small = await _notify(ledger, 2, key="small")
    claimed = await ledger.claim_due(T0, limit=5, lease=LEASE, lane=0)
    assert [d.notification_id for d in claimed] == [small, small]


async def test_the_tenants_with_queued_deliveries_are_listed_once_each(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    await _broadcast(ledger, TENANT, "first", 150, T0 - timedelta(minutes=5))
    await _broadcast(ledger, OTHER_TENANT, "later", 150, T0)
    assert await ledger.queued_tenants() == sorted([TENANT, OTHER_TENANT])


async def test_a_claim_for_some_tenants_takes_only_theirs(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    await _broadcast(ledger, TENANT, "first", 150, T0 - timedelta(minutes=5))
    later = await _broadcast(ledger, OTHER_TENANT, "later", 150, T0)
    claimed = await ledger.claim_due(T0, limit=3, lease=LEASE, only_tenants={OTHER_TENANT})
    assert {d.notification_id for d in claimed} == {later} and len(claimed) == 3
