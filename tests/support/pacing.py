"""Fake monotonic time for the rate limiters (their clock is a float, their sleep injectable)."""

from __future__ import annotations

import asyncio


class FakeTime:
    """Monotonic seconds that move only when :meth:`run` moves them to the earliest sleeper's deadline (a FakeClock
    for the limiter's float clock): everyone queued first, then time passes."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, wake))
        await wake

    async def run(self, *tasks: asyncio.Task[None]) -> None:
        """Let time pass until every task is done."""
        while not all(t.done() for t in tasks):
            for _ in range(5):
                await asyncio.sleep(0)
            self._sleepers = [(at, f) for at, f in self._sleepers if not f.done()]
            if not self._sleepers:
                continue
            at, wake = min(self._sleepers, key=lambda s: s[0])
            self._sleepers.remove((at, wake))
            self.now = max(self.now, at)
            wake.set_result(None)
