"""Teams' send limits: per-conversation sliding windows, a per-tenant rate, and a shared pause after a 429."""

from __future__ import annotations

import asyncio

import pytest

from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def _times(limiter: ConversationLimiter, time: FakeTime, key: str, count: int) -> list[float]:
    stamps = []
    for _ in range(count):
        await limiter.acquire(key)
        stamps.append(time.now)
    return stamps


async def test_seven_sends_fit_in_the_first_second_and_the_eighth_waits() -> None:
    time = FakeTime()
    limiter = ConversationLimiter(clock=time.clock, sleep=time.sleep)
    stamps = await _times(limiter, time, "c1", 8)
    assert stamps[:7] == [0.0] * 7
    assert stamps[7] == pytest.approx(1.15)  # the window plus the jitter margin


async def test_no_two_second_window_holds_more_than_eight() -> None:
    time = FakeTime()
    limiter = ConversationLimiter(clock=time.clock, sleep=time.sleep)
    stamps = await _times(limiter, time, "c1", 40)
    for i, start in enumerate(stamps):
        assert sum(1 for t in stamps[i:] if t - start < 2.0) <= 8
        assert sum(1 for t in stamps[i:] if t - start < 1.0) <= 7


async def test_no_thirty_second_window_holds_more_than_sixty() -> None:
    time = FakeTime()
    limiter = ConversationLimiter(clock=time.clock, sleep=time.sleep)
    stamps = await _times(limiter, time, "c1", 130)
    for i, start in enumerate(stamps):
        assert sum(1 for t in stamps[i:] if t - start < 30.0) <= 60


async def test_conversations_are_limited_independently() -> None:
    time = FakeTime()
    limiter = ConversationLimiter(clock=time.clock, sleep=time.sleep)
    for n in range(50):
        await limiter.acquire(f"c{n}")
    assert time.now == 0.0


async def test_idle_conversations_are_forgotten() -> None:
    time = FakeTime()
    limiter = ConversationLimiter(clock=time.clock, sleep=time.sleep)
    for n in range(10_000):
        limiter.record(f"c{n}")
    time.now = 4000.0
    for n in range(10_000):
        limiter.record(f"d{n}")
    assert len(limiter) <= 10_000


async def test_the_tenant_rate_is_honoured() -> None:
    time = FakeTime()
    limiter = TenantLimiter(30, clock=time.clock, sleep=time.sleep, margin=0.0)
    for _ in range(90 + TenantLimiter.BURST):
        await limiter.acquire("t1")
    assert time.now == pytest.approx(3.0, abs=0.05)


async def test_the_tenant_rate_keeps_a_jitter_margin_by_default() -> None:
    time = FakeTime()
    limiter = TenantLimiter(50, clock=time.clock, sleep=time.sleep)
    for _ in range(500 + TenantLimiter.BURST):
        await limiter.acquire("t1")
    assert time.now == pytest.approx(10.25, abs=0.01)  # 500 intervals at 50 per 1.025 s


async def test_a_sleep_that_wakes_late_does_not_slow_the_pace() -> None:
    time = FakeTime()

    async def late_sleep(seconds: float) -> None:
        await time.sleep(seconds + 0.004)  # the event loop wakes a little late

    limiter = TenantLimiter(50, clock=time.clock, sleep=late_sleep, margin=0.0)
    for _ in range(500 + TenantLimiter.BURST):
        await limiter.acquire("t1")
    assert time.now == pytest.approx(10.0, abs=0.02)


async def test_departures_never_exceed_the_rate_in_any_window_even_after_a_stall() -> None:
    time = FakeTime()
    limiter = TenantLimiter(50, clock=time.clock, sleep=time.sleep)
    departures: list[float] = []
    for n in range(300):
        if n % 40 == 0:
            time.now += 0.3  # senders bunched up behind a slow commit
        await limiter.depart("t1")
        departures.append(time.now)
    for i, start in enumerate(departures):
        assert sum(1 for t in departures[i:] if t - start < 1.025 - 1e-6) <= 50


async def test_departures_wait_out_a_429_pause() -> None:
    time = FakeTime()
    limiter = TenantLimiter(50, clock=time.clock, sleep=time.sleep)
    limiter.pause("t1", 2.0)
    await limiter.depart("t1")
    assert time.now >= 2.0


async def test_a_replica_share_divides_the_rate() -> None:
    time = FakeTime()
    limiter = TenantLimiter(40, clock=time.clock, sleep=time.sleep, margin=0.0)
    limiter.set_share(0.5)
    for _ in range(40 + TenantLimiter.BURST):
        await limiter.acquire("t1")
    assert time.now == pytest.approx(2.0, abs=0.05)


async def test_tenants_do_not_share_a_bucket() -> None:
    time = FakeTime()
    limiter = TenantLimiter(10, clock=time.clock, sleep=time.sleep)
    await limiter.acquire("t1")
    await limiter.acquire("t2")
    assert time.now == 0.0


async def test_a_429_pauses_every_sender_of_the_tenant() -> None:
    time = FakeTime()
    limiter = TenantLimiter(50, clock=time.clock, sleep=time.sleep)
    await limiter.acquire("t1")
    limiter.pause("t1", 5.0)
    await limiter.acquire("t1")
    assert time.now >= 5.0


def test_the_configured_rate_cannot_exceed_fifty() -> None:
    from bot.platform.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="COURIER_OUTREACH_RPS"):
        load_settings({"COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1", "COURIER_OUTREACH_RPS": "60"}, dotenv=None)


async def test_fan_out_conversations_are_forgotten_after_the_short_windows() -> None:
    time = FakeTime()
    limiter = ConversationLimiter(clock=time.clock, sleep=time.sleep)
    for _ in range(20):  # a busy channel: its hourly count must survive
        limiter.record("channel")
    for n in range(5_000):  # a fan-out: one send each
        limiter.record(f"user-{n}")
    time.now = 31.0
    for n in range(2_000):
        limiter.record(f"later-{n}")
    assert "channel" in limiter._hits and "user-0" not in limiter._hits
    assert len(limiter) <= 2_001
