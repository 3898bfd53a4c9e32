"""Priority lanes within a tenant's pace: one message now goes before a broadcast's queue, never after it."""

from __future__ import annotations

import asyncio

from bot.platform.messaging.ratelimit import Lane, TenantLimiter
from tests.support.pacing import FakeTime


async def _grant_order(time: FakeTime, limiter: TenantLimiter, lanes: list[tuple[str, Lane]]) -> list[str]:
    order: list[str] = []

    async def one(name: str, lane: Lane) -> None:
        await limiter.acquire("t1", lane)
        order.append(name)

    tasks = []
    for name, lane in lanes:
        tasks.append(asyncio.create_task(one(name, lane)))
        await asyncio.sleep(0)  # queue them in this order
    await time.run(*tasks)
    return order


async def test_a_priority_sender_is_granted_before_bulk_senders_that_queued_earlier() -> None:
    time = FakeTime()
    limiter = TenantLimiter(10.0, clock=time.clock, sleep=time.sleep)
    lanes = [(f"bulk{i}", Lane.BULK) for i in range(20)] + [("reminder", Lane.PRIORITY)]
    order = await _grant_order(time, limiter, lanes)
    # The burst goes at once and the next bulk sender holds the gate while it sleeps to its grant: then the reminder.
    assert order.index("reminder") == TenantLimiter.BURST + 1


async def test_a_priority_sender_waits_two_intervals_at_most_behind_a_saturating_broadcast() -> None:
    time = FakeTime()
    limiter = TenantLimiter(10.0, clock=time.clock, sleep=time.sleep, margin=0.0)
    granted: dict[str, float] = {}
    halfway = asyncio.Event()

    async def one(name: str, lane: Lane) -> None:
        await limiter.acquire("t1", lane)
        granted[name] = time.now
        if len(granted) == 50:
            halfway.set()

    async def reminder_mid_broadcast() -> None:
        await halfway.wait()  # the broadcast is five seconds in
        granted["asked"] = time.now
        await one("reminder", Lane.PRIORITY)

    tasks = [asyncio.create_task(one(f"bulk{i}", Lane.BULK)) for i in range(100)]
    tasks.append(asyncio.create_task(reminder_mid_broadcast()))
    await time.run(*tasks)
    # The grant being slept to, then the reminder's own: two intervals at 10/s, not the 50 bulk grants still queued.
    assert granted["reminder"] - granted["asked"] <= 0.2 + 1e-9


async def test_bulk_senders_keep_their_arrival_order() -> None:
    time = FakeTime()
    limiter = TenantLimiter(10.0, clock=time.clock, sleep=time.sleep)
    names = [f"bulk{i}" for i in range(10)]
    order = await _grant_order(time, limiter, [(n, Lane.BULK) for n in names])
    assert order == names


async def test_priority_senders_share_the_tenant_pace_with_bulk() -> None:
    time = FakeTime()
    limiter = TenantLimiter(10.0, clock=time.clock, sleep=time.sleep, margin=0.0)
    lanes = [(f"s{i}", Lane.BULK if i % 2 else Lane.PRIORITY) for i in range(40)]
    await _grant_order(time, limiter, lanes)
    # 40 grants at 10/s with a burst of three: the lanes together never exceed the tenant's one pace.
    assert time.now >= (40 - TenantLimiter.BURST) / 10.0 - 1e-9


async def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    time = FakeTime()
    limiter = TenantLimiter(10.0, clock=time.clock, sleep=time.sleep)
    first = [asyncio.create_task(limiter.acquire("t1", Lane.BULK)) for _ in range(TenantLimiter.BURST + 1)]
    await asyncio.sleep(0)
    waiting = asyncio.create_task(limiter.acquire("t1", Lane.PRIORITY))
    last = asyncio.create_task(limiter.acquire("t1", Lane.BULK))
    await asyncio.sleep(0)
    assert limiter.waiting("t1", Lane.PRIORITY) == 1
    waiting.cancel()
    await time.run(*first, last)
    assert (limiter.waiting("t1", Lane.PRIORITY), limiter.waiting("t1", Lane.BULK)) == (0, 0)


async def test_another_tenant_never_waits_for_a_saturated_one() -> None:
    time = FakeTime()
    limiter = TenantLimiter(10.0, clock=time.clock, sleep=time.sleep)
    busy = [asyncio.create_task(limiter.acquire("busy", Lane.BULK)) for _ in range(50)]
    await asyncio.sleep(0)
    quiet = asyncio.create_task(limiter.acquire("quiet", Lane.BULK))
    await asyncio.sleep(0)
    assert quiet.done()
    await time.run(*busy)
