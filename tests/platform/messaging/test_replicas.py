"""Replicas share a tenant's send rate through storage: each paces at 1/N, and a 429 pauses all of them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.platform.messaging.ratelimit import TenantLimiter
from bot.platform.messaging.replicas import ReplicaCoordinator
from bot.platform.storage import SqlStore
from tests.support.clock import FakeClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


async def test_two_replicas_each_take_half_of_the_rate(store: SqlStore, clock: FakeClock) -> None:
    first, second = TenantLimiter(50), TenantLimiter(50)
    a = ReplicaCoordinator(store, first, clock=clock)
    b = ReplicaCoordinator(store, second, clock=clock)
    await a.beat()
    assert await b.beat() == 2
    assert await a.beat() == 2


async def test_a_replica_that_stops_beating_no_longer_counts(store: SqlStore, clock: FakeClock) -> None:
    a = ReplicaCoordinator(store, TenantLimiter(50), clock=clock, expiry=10)
    b = ReplicaCoordinator(store, TenantLimiter(50), clock=clock, expiry=10)
    await a.beat()
    await b.beat()
    clock.advance(timedelta(seconds=11))  # b died without withdrawing
    assert await a.beat() == 1


async def test_a_stopped_replica_withdraws_at_once(store: SqlStore, clock: FakeClock) -> None:
    a = ReplicaCoordinator(store, TenantLimiter(50), clock=clock)
    b = ReplicaCoordinator(store, TenantLimiter(50), clock=clock)
    await a.beat()
    stop = asyncio.Event()
    stop.set()
    await b.run(stop)  # beats once, then withdraws
    assert await a.beat() == 1


async def test_a_429_seen_by_one_replica_pauses_the_other(store: SqlStore, clock: FakeClock) -> None:
    first, second = TenantLimiter(50), TenantLimiter(50)
    a = ReplicaCoordinator(store, first, clock=clock)
    b = ReplicaCoordinator(store, second, clock=clock)
    await a.beat()
    await b.beat()
    first.pause(TENANT, 30.0)
    await a.flush()
    await b.beat()
    assert second.paused_until(TENANT) - second.now() > 25.0
