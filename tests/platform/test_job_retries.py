"""A plain stored job whose handler keeps failing backs off exponentially (capped at an hour) and is given up after
``MAX_JOB_ATTEMPTS``, on SQLite and PostgreSQL; a success in between starts the count again."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.platform.jobs import MAX_JOB_ATTEMPTS, Job, JobScheduler, retry_delay
from bot.platform.storage import SqlStore
from tests.platform.test_jobs import KIND, Handler, scheduler_on
from tests.support.clock import FakeClock


def _always_fail(job: Job) -> datetime | None:
    raise RuntimeError("Graph is down")


async def _fail_once_more(jobs: JobScheduler, clock: FakeClock) -> Job | None:
    """Run the job when it is next due (it fails); the job as stored afterwards."""
    job = await jobs.get(KIND, "k1")
    assert job is not None
    clock.set(job.due_at)
    assert await jobs.tick() == 1
    return await jobs.get(KIND, "k1")


async def test_the_wait_between_retries_doubles_up_to_an_hour(store: SqlStore, clock: FakeClock) -> None:
    jobs = scheduler_on(store, clock, Handler(answer=_always_fail))
    await jobs.schedule(KIND, "k1", clock())
    waits = []
    for _ in range(7):
        before = clock()
        job = await _fail_once_more(jobs, clock)
        assert job is not None
        waits.append(job.due_at - max(before, clock()))
    assert waits == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 60, 60)]


async def test_a_job_that_keeps_failing_is_given_up_and_runs_no_more(store: SqlStore, clock: FakeClock) -> None:
    handler = Handler(answer=_always_fail)
    jobs = scheduler_on(store, clock, handler)
    await jobs.schedule(KIND, "k1", clock())
    for _ in range(MAX_JOB_ATTEMPTS):
        job = await _fail_once_more(jobs, clock)
    assert job is not None and job.attempts == MAX_JOB_ATTEMPTS
    row = await store.db.fetchrow("SELECT status FROM jobs WHERE kind = $1 AND key = $2", KIND, "k1")
    assert row is not None and row["status"] == "failed"
    clock.advance(days=2)
    assert await jobs.tick() == 0 and len(handler.ran) == MAX_JOB_ATTEMPTS


async def test_scheduling_a_given_up_job_again_runs_it_again(store: SqlStore, clock: FakeClock) -> None:
    handler = Handler(answer=_always_fail)
    jobs = scheduler_on(store, clock, handler)
    await jobs.schedule(KIND, "k1", clock())
    for _ in range(MAX_JOB_ATTEMPTS):
        await _fail_once_more(jobs, clock)
    handler.answer = lambda job: None
    await jobs.schedule(KIND, "k1", clock())
    assert await jobs.tick() == 1
    assert await jobs.get(KIND, "k1") is None


async def test_a_success_between_failures_starts_the_count_again(store: SqlStore, clock: FakeClock) -> None:
    handler = Handler(answer=_always_fail)
    jobs = scheduler_on(store, clock, handler)
    await jobs.schedule(KIND, "k1", clock())
    for _ in range(3):
        await _fail_once_more(jobs, clock)
    handler.answer = lambda job: clock() + timedelta(hours=1)  # a repeating job that worked this time
    job = await _fail_once_more(jobs, clock)
    assert job is not None and job.attempts == 0
    handler.answer = _always_fail
    job = await _fail_once_more(jobs, clock)
    assert job is not None and job.due_at == clock() + retry_delay(1)


def test_the_retry_delay_is_capped_at_an_hour() -> None:
    assert retry_delay(1) == timedelta(minutes=2)
    assert retry_delay(60) == timedelta(hours=1)
