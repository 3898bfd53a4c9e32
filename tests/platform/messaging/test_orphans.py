"""A stopped engine's claims come back within seconds, not at the end of their lease (exactly once all the same)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.messaging.ratelimit import TenantLimiter
from bot.platform.messaging.replicas import ReplicaCoordinator
from bot.platform.storage import SqlStore
from tests.support.clock import FakeClock

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LEASE = timedelta(minutes=2)
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": []}


async def _queued(ledger: OutreachLedger, count: int) -> str:
    notification, _ = await ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="orphans",
        card=CARD,
        ack_required=False,
        send_at=T0,
        now=T0,
        recipients=[(f"user:{n}", {"userId": f"u{n}"}) for n in range(count)],
    )
    return notification.id


async def _engine_alive(ledger: OutreachLedger, engine_id: str, at: datetime) -> None:
    await ledger.engines.heartbeat(engine_id, at, expiry=timedelta(seconds=6))


async def test_claims_of_an_engine_whose_heartbeat_stopped_are_requeued_at_the_next_beat(store: SqlStore) -> None:
    ledger, clock = OutreachLedger(store.db), FakeClock(T0)
    nid = await _queued(ledger, 3)
    await _engine_alive(ledger, "killed", T0)
    assert len(await ledger.claim_due(T0, limit=10, lease=LEASE, owner="killed")) == 3
    clock.advance(seconds=7)  # the killed engine's lease has 113 s to go, its heartbeat is 7 s old
    released: list[bool] = []
    survivor = ReplicaCoordinator(store, TenantLimiter(30), clock=clock, on_released=lambda: released.append(True))
    await survivor.beat()
    assert (await ledger.totals(nid))["queued"] == 3 and released == [True]


async def test_sending_rows_of_a_stopped_engine_become_maybe_delivered_never_resent(store: SqlStore) -> None:
    ledger, clock = OutreachLedger(store.db), FakeClock(T0)
    nid = await _queued(ledger, 1)
    await _engine_alive(ledger, "killed", T0)
    (claimed,) = await ledger.claim_due(T0, limit=10, lease=LEASE, owner="killed")
    assert await ledger.mark_sending(claimed, T0)
    clock.advance(seconds=7)
    await ReplicaCoordinator(store, TenantLimiter(30), clock=clock).beat()
    assert (await ledger.totals(nid))["maybe_delivered"] == 1


async def test_a_live_engines_claims_are_left_alone(store: SqlStore) -> None:
    ledger, clock = OutreachLedger(store.db), FakeClock(T0)
    nid = await _queued(ledger, 2)
    await _engine_alive(ledger, "busy", T0 + timedelta(seconds=5))
    await ledger.claim_due(T0, limit=10, lease=LEASE, owner="busy")
    clock.advance(seconds=7)  # "busy" beat 2 s ago
    await ReplicaCoordinator(store, TenantLimiter(30), clock=clock).beat()
    assert (await ledger.totals(nid))["claimed"] == 2


async def test_a_released_claim_can_no_longer_be_sent_by_its_old_holder(store: SqlStore) -> None:
    ledger, clock = OutreachLedger(store.db), FakeClock(T0)
    await _queued(ledger, 1)
    await _engine_alive(ledger, "frozen", T0)
    (stale,) = await ledger.claim_due(T0, limit=10, lease=LEASE, owner="frozen")
    clock.advance(seconds=7)
    await ReplicaCoordinator(store, TenantLimiter(30), clock=clock).beat()
    (fresh,) = await ledger.claim_due(clock(), limit=10, lease=LEASE, owner="survivor")
    assert not await ledger.mark_sending(stale, clock())  # the frozen engine wakes up: its claim is gone
    assert await ledger.mark_sending(fresh, clock())


async def test_a_claim_its_holder_gives_back_is_queued_again_at_once(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    nid = await _queued(ledger, 1)
    (claimed,) = await ledger.claim_due(T0, limit=10, lease=LEASE, owner="alive")
    assert [d.recipient_key for d in await ledger.held_by("alive")] == [claimed.recipient_key]
    assert await ledger.release(claimed, T0)  # e.g. its storage write failed half-way: no waiting for the lease
    assert (await ledger.totals(nid))["queued"] == 1 and await ledger.held_by("alive") == []


async def test_a_sending_claim_given_back_becomes_maybe_delivered_never_resent(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    nid = await _queued(ledger, 1)
    (claimed,) = await ledger.claim_due(T0, limit=10, lease=LEASE, owner="alive")
    assert await ledger.mark_sending(claimed, T0)
    assert await ledger.release(claimed, T0)
    assert (await ledger.totals(nid))["maybe_delivered"] == 1


async def test_giving_back_a_claim_that_was_taken_again_changes_nothing(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    nid = await _queued(ledger, 1)
    (stale,) = await ledger.claim_due(T0, limit=10, lease=LEASE, owner="alive")
    await ledger.release(stale, T0)
    await ledger.claim_due(T0, limit=10, lease=LEASE, owner="alive")  # claimed again, with a new token
    assert not await ledger.release(stale, T0)
    assert (await ledger.totals(nid))["claimed"] == 1


async def test_a_sending_claim_whose_request_never_left_is_queued_again(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    nid = await _queued(ledger, 1)
    (claimed,) = await ledger.claim_due(T0, limit=10, lease=LEASE, owner="alive")
    assert await ledger.mark_sending(claimed, T0)  # committed, but its answer was lost: nothing was sent
    assert await ledger.release(claimed, T0, request_left=False)
    assert (await ledger.totals(nid))["queued"] == 1
