"""Background workers are supervised: a failure is logged, shown as not ready, and the worker starts again."""

from __future__ import annotations

import asyncio

from bot.platform.background import WorkerHealth, supervise


async def test_a_worker_that_raises_is_started_again() -> None:
    health, stop, again = WorkerHealth(), asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    async def engine(stop: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("database is unreachable")
        again.set()
        await stop.wait()

    task = asyncio.create_task(supervise("engine", engine, stop, health, first_backoff=0.01))
    await asyncio.wait_for(again.wait(), 5)
    state = health.state("engine")
    assert state.running and state.restarts == 1 and "database is unreachable" in (state.last_error or "")
    stop.set()
    await task


async def test_a_failed_worker_is_not_ready_until_it_runs_again() -> None:
    health, stop, failed = WorkerHealth(), asyncio.Event(), asyncio.Event()

    async def engine(stop: asyncio.Event) -> None:
        failed.set()
        raise OSError("disk full")

    task = asyncio.create_task(supervise("engine", engine, stop, health, first_backoff=60))
    await failed.wait()  # the worker raised in the supervisor's own task, which recorded it before it paused
    assert not health.ready and health.describe()["engine"]["running"] is False
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_worker_that_returns_at_stop_is_not_restarted() -> None:
    health, stop, started = WorkerHealth(), asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    async def scheduler(stop: asyncio.Event) -> None:
        runs.append(1)
        started.set()
        await stop.wait()

    task = asyncio.create_task(supervise("scheduler", scheduler, stop, health))
    await started.wait()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert runs == [1] and health.state("scheduler").restarts == 0
