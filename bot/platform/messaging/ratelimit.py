"""Teams' send limits, enforced before a request leaves.

- Per conversation (send or create): 7 per 1 s, 8 per 2 s, 60 per 30 s, 1,800 per hour (sliding windows).
- Per tenant (all of Courier's senders in this process): a token bucket, 30 requests/s by default (50 at most).
- A 429 pauses every sender of that tenant for ``Retry-After``, not just the one that got it.
- Two lanes share a tenant's pace: the priority lane (reminders, direct notices, small notifications) is granted
  before any bulk sender still waiting, so a broadcast that saturates the tenant delays a reminder by one grant at
  most, never by the broadcast's queue.

Time and sleeping are injectable so tests and benchmarks can drive them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import IntEnum

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

CONVERSATION_WINDOWS: tuple[tuple[int, float], ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
MAX_TENANT_RPS = 50.0


class Lane(IntEnum):
    """Who goes first within a tenant's pace (the lower value first)."""

    PRIORITY = 0  # reminders, direct notices, card updates, small notifications
    BULK = 1  # broadcasts


class LaneGate:
    """A lock whose waiters are served by lane, then in arrival order (``asyncio.Lock`` is arrival order only)."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[deque[asyncio.Future[None]], ...] = tuple(deque() for _ in Lane)

    def waiting(self, lane: Lane) -> int:
        return len(self._waiting[lane])

    async def enter(self, lane: Lane) -> None:
        if not self._held and not any(self._waiting):
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[lane].append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed over just as we were cancelled: pass it on
                self.leave()
            else:
                with contextlib.suppress(ValueError):  # already dropped by leave() as a cancelled waiter
                    self._waiting[lane].remove(turn)
            raise

    def leave(self) -> None:
        for queue in self._waiting:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # handed over: the gate stays held
                    return
        self._held = False


class ConversationLimiter:
    forget_below = 10

    def __init__(
        self,
        windows: tuple[tuple[int, float], ...] = CONVERSATION_WINDOWS,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        margin: float = 0.15,
    ) -> None:
        self._windows = windows
        # Teams counts arrivals, Courier counts departures: network jitter can bunch requests up on arrival, so
        # each window is held a little longer than its nominal length.
        self._margin = margin
        self._longest = max(w for _, w in windows)
        # Past this, only the longest window still counts a hit (30 s + margin with Teams' windows).
        self._short_horizon = max((w for _, w in windows if w < self._longest), default=self._longest) + margin
        # Plain lists, not deques: a fan-out keeps tens of thousands of one-hit conversations for 30 s, and an
        # empty deque alone costs ~600 bytes. Lists stay short (at most 1,800 hits an hour).
        self._hits: dict[str, list[float]] = {}
        self._clock = clock
        self._sleep = sleep
        self._since_sweep = 0

    def delay(self, key: str) -> float:
        """Seconds until one more request to ``key`` fits every window (0 when it fits now)."""
        now = self._clock()
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        stale = 0
        while stale < len(hits) and now - hits[stale] >= self._longest:
            stale += 1
        if stale:
            del hits[:stale]
        wait = 0.0
        for count, window in self._windows:
            if len(hits) >= count:
                oldest_in_window = hits[-count]
                if now - oldest_in_window < window + self._margin - 1e-9:  # float-tolerant
                    wait = max(wait, window + self._margin - (now - oldest_in_window))
        return wait

    def record(self, key: str) -> None:
        self._hits.setdefault(key, []).append(self._clock())
        self._since_sweep += 1
        if self._since_sweep >= 2_000:
            self._sweep()

    async def acquire(self, key: str) -> None:
        while (wait := self.delay(key)) > 0:
            await self._sleep(wait)
        self.record(key)

    def _sweep(self) -> None:
        """Keep memory flat in fan-outs, where each of 100,000 conversations gets one or two sends.

        A conversation is forgotten once it has been idle longer than every window but the hourly one and it has
        fewer than ``forget_below`` sends in the hour: its hourly count can then be under-counted by at most
        ``forget_below - 1`` of 1,800 (and a 429 from Teams is honoured as always). Busier conversations (a
        channel that gets a post a minute) are kept for the whole hour."""
        self._since_sweep = 0
        now = self._clock()
        stale = [
            k
            for k, hits in self._hits.items()
            if not hits
            or now - hits[-1] >= self._longest
            or (now - hits[-1] >= self._short_horizon and len(hits) < self.forget_below)
        ]
        for key in stale:
            del self._hits[key]

    def __len__(self) -> int:
        return len(self._hits)


class TenantLimiter:
    """Per tenant: a pacing schedule for senders, a departure gate, and a shared pause after a 429.

    Two stages, because Teams counts *arrivals* in a sliding second. :meth:`acquire` paces senders smoothly
    before they write their "sending" mark; :meth:`depart`, right before the request leaves, guarantees that no
    window of ``1 + margin`` seconds holds more than ``rps`` departures, whatever stalls (a commit, a pause of the
    event loop) bunched senders up in between. The margin (25 ms) absorbs network jitter on arrival; pacing exactly
    at the ceiling would draw 429s whose one-second pauses cost far more than the 2.5% the margin does.

    ``share`` lets replicas divide a tenant's rate between them (see :mod:`bot.platform.messaging.replicas`).
    """

    BURST = 3

    def __init__(
        self,
        rps: float = 30.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        margin: float = 0.025,
    ) -> None:
        # Settings cap COURIER_OUTREACH_RPS at MAX_TENANT_RPS; benchmarks may lift it to measure the engine alone.
        if rps <= 0:
            raise ValueError("the per-tenant rate must be positive")
        self.rps = rps
        self._margin = margin
        self._share = 1.0
        self._clock = clock
        self._sleep = sleep
        self._due: dict[str, float] = {}  # when each tenant's next grant is due on the pacing schedule
        self._paused_until: dict[str, float] = {}
        self._gates: dict[str, LaneGate] = {}
        self._departures: dict[str, deque[float]] = {}
        self.on_pause: Callable[[str, float], None] | None = None

    @property
    def _pace(self) -> float:
        return self.rps * self._share / (1.0 + self._margin)

    @property
    def _window_count(self) -> int:
        return max(1, int(self.rps * self._share))

    def set_share(self, share: float) -> None:
        """This process's part of each tenant's rate (1.0 alone; 0.5 with two replicas)."""
        self._share = min(1.0, max(0.01, share))

    def now(self) -> float:
        return self._clock()

    def paused_until(self, tenant_id: str) -> float:
        return self._paused_until.get(tenant_id, 0.0)

    async def depart(self, tenant_id: str) -> None:
        """Wait until one more request fits the tenant's sliding window, and count it as leaving now."""
        window = 1.0 + self._margin
        hits = self._departures.setdefault(tenant_id, deque())
        while True:
            now = self._clock()
            paused = self._paused_until.get(tenant_id, 0.0)
            if now < paused:
                await self._sleep(paused - now)
                continue
            while hits and now - hits[0] >= window - 1e-9:  # float-tolerant: never spin on a rounding error
                hits.popleft()
            if len(hits) < self._window_count:
                hits.append(now)
                return
            await self._sleep(max(1e-6, window - (now - hits[0])))

    def pause(self, tenant_id: str, seconds: float, *, shared: bool = True) -> None:
        """Pause every sender of the tenant; ``on_pause`` (replicas) hears of it unless it came from there."""
        until = self._clock() + seconds
        self._paused_until[tenant_id] = max(self._paused_until.get(tenant_id, 0.0), until)
        if shared and self.on_pause is not None:
            self.on_pause(tenant_id, seconds)

    async def acquire(self, tenant_id: str, lane: Lane = Lane.BULK) -> None:
        """Pace senders on a schedule (GCRA): each grant is due one interval after the previous one was due, not
        after it was granted, so a sleep that wakes late is made up by the next grant instead of being lost. A
        burst of ``BURST`` after an idle spell is allowed; the departure gate keeps the hard per-window count.
        Waiters are granted one at a time, the priority lane before bulk, each lane in arrival order."""
        gate = self._gates.setdefault(tenant_id, LaneGate())
        await gate.enter(lane)
        try:
            while True:
                now = self._clock()
                paused = self._paused_until.get(tenant_id, 0.0)
                if now < paused:
                    await self._sleep(paused - now)
                    continue
                interval = 1.0 / self._pace
                due = self._due.get(tenant_id, now)
                earliest = due - interval * (self.BURST - 1)
                if now >= earliest - 1e-9:  # float-tolerant: never spin on a rounding error
                    self._due[tenant_id] = max(due, now) + interval
                    return
                await self._sleep(earliest - now)
        finally:
            gate.leave()

    def waiting(self, tenant_id: str, lane: Lane) -> int:
        """Senders of the tenant waiting in ``lane`` for a grant (metrics)."""
        gate = self._gates.get(tenant_id)
        return gate.waiting(lane) if gate is not None else 0
