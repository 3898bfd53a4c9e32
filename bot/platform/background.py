"""Background workers that live as long as the aiohttp app: started with it, supervised, told to stop, given a grace
period.

A worker that raises is logged, marked down in :class:`WorkerHealth` (``/readyz`` turns unhealthy) and started again
after a backoff (1 s, doubling up to a minute), so one database outage never stops the engine or the scheduler for
good. A worker that returns before the stop event is set is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.platform.waiting import first_of

logger = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]  # runs until the event is set
CleanupContext = Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


@dataclass(slots=True)
class WorkerState:
    running: bool = False
    restarts: int = 0
    last_error: str | None = None


@dataclass(slots=True)
class WorkerHealth:
    """Which workers run now; ``/readyz`` is ready only when every one of them does."""

    workers: dict[str, WorkerState] = field(default_factory=dict)

    def state(self, name: str) -> WorkerState:
        return self.workers.setdefault(name, WorkerState())

    @property
    def ready(self) -> bool:
        return all(state.running for state in self.workers.values())

    def describe(self) -> dict[str, dict[str, object]]:
        return {
            name: {"running": s.running, "restarts": s.restarts, "last_error": s.last_error}
            for name, s in sorted(self.workers.items())
        }


async def supervise(
    name: str, work: Worker, stop: asyncio.Event, health: WorkerHealth, *, first_backoff: float = FIRST_BACKOFF
) -> None:
    """Run ``work`` until ``stop``; restart it with backoff whenever it raises."""
    state = health.state(name)
    backoff = first_backoff
    while not stop.is_set():
        state.running = True
        try:
            await work(stop)
            return
        except Exception as exc:
            state.running = False
            state.restarts += 1
            state.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            logger.exception("background worker %s stopped; restarting in %.0f s", name, backoff)
        await first_of(stop, timeout=backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)
    state.running = False


def background(
    name: str,
    *workers: Worker,
    grace: float = 20.0,
    after: Callable[[], Awaitable[object]] | None = None,
    health: WorkerHealth | None = None,
) -> CleanupContext:
    """An ``app.cleanup_ctx`` entry running ``workers`` side by side, supervised; at shutdown they get ``grace``
    seconds to finish (then they are cancelled), and ``after`` runs (e.g. closing their HTTP client)."""
    watched = health if health is not None else WorkerHealth()

    @contextlib.asynccontextmanager
    async def context(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        names = [name if len(workers) == 1 else f"{name}-{n}" for n in range(len(workers))]
        for label in names:
            watched.state(label)  # known (not yet running) from the start: /readyz waits for it
        tasks = [
            asyncio.create_task(supervise(label, work, stop, watched), name=label)
            for label, work in zip(names, workers, strict=True)
        ]
        if workers:
            logger.info("%s started", name)
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(TimeoutError):  # wait_for cancels what has not finished by then
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), grace)
            if after is not None:
                await after()
            if workers:
                logger.info("%s stopped", name)

    return context
