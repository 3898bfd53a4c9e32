"""The durable job scheduler's stored jobs, on SQLite and PostgreSQL: run once when due, repeat, move, cancel,
recover what a stopped replica held, never twice across replicas, retry after a failure, wake on demand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from bot.platform.jobs import Job, JobScheduler, StoredJobs
from bot.platform.storage import SqlStore, StorageError, open_store
from bot.platform.storage.base import storage_failure
from tests.support.clock import FakeClock

KIND = "probe.remind"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LEASE = timedelta(minutes=2)
GUARD = 10.0  # seconds an awaited event may take before the test fails (a hang, not a timing assertion)


@dataclass
class Handler:
    """A job handler that records the jobs it ran and answers what the test tells it to."""

    answer: Callable[[Job], datetime | None] = lambda job: None
    ran: list[Job] = field(default_factory=list)
    ran_once: asyncio.Event = field(default_factory=asyncio.Event)
    stuck: asyncio.Event | None = None  # when set, a job hangs here (a replica killed mid-job)

    async def __call__(self, job: Job) -> datetime | None:
        self.ran.append(job)
        self.ran_once.set()
        if self.stuck is not None:
            await self.stuck.wait()
        return self.answer(job)

    @property
    def keys(self) -> list[str]:
        return [job.key for job in self.ran]


def scheduler_on(
    store: SqlStore,
    clock: FakeClock,
    handler: Callable[[Job], Awaitable[datetime | None]],
    *,
    batch_size: int = 200,
) -> JobScheduler:
    """A replica's scheduler with ``handler`` for KIND; it naps up to 600 s when nothing is due."""
    scheduler = JobScheduler(
        clock=clock, lease=LEASE, batch_size=batch_size, max_sleep=600.0, recover_every=timedelta(minutes=10)
    )
    scheduler.use_table(store.db)
    scheduler.handle(KIND, handler)
    return scheduler


class Naps:
    """A kind without jobs that notices when the scheduler is about to nap: it asks every kind when its next job is
    due right before it sleeps (this kind is asked last)."""

    name = "naps"

    def __init__(self) -> None:
        self.asleep = asyncio.Event()

    async def next_due(self) -> datetime | None:
        self.asleep.set()
        return None

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str = "") -> list[object]:
        return []

    async def release(self, job: object, now: datetime) -> bool:
        return False

    async def release_held(self, owner: str, now: datetime) -> int:
        return 0

    async def run(self, job: object) -> None:
        return None

    async def recover(self, now: datetime) -> None:
        return None

    async def housekeeping(self, now: datetime) -> None:
        return None


async def asleep(naps: Naps) -> None:
    """Until the running scheduler has found nothing due and gone to sleep."""
    naps.asleep.clear()
    await asyncio.wait_for(naps.asleep.wait(), GUARD)


@asynccontextmanager
async def running(scheduler: JobScheduler) -> AsyncIterator[None]:
    """The scheduler's loop in the background, ready (start-up recovery done) when the block starts."""
    stop = asyncio.Event()
    loop = asyncio.create_task(scheduler.run(stop))
    await asyncio.wait_for(scheduler.ready.wait(), GUARD)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(loop, GUARD)


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def jobs(store: SqlStore, clock: FakeClock, handler: Handler) -> JobScheduler:
    return scheduler_on(store, clock, handler)


async def test_a_job_does_not_run_before_it_is_due(jobs: JobScheduler, handler: Handler, clock: FakeClock) -> None:
    await jobs.schedule(KIND, "k1", clock() + timedelta(minutes=5))
    clock.advance(minutes=4)
    assert await jobs.tick() == 0
    assert handler.ran == []


async def test_a_due_job_runs_once_with_what_it_was_given(
    jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    due = clock() + timedelta(minutes=5)
    await jobs.schedule(KIND, "k1", due, tenant_id=TENANT, payload={"text": "stand-up"})
    clock.advance(minutes=5)
    assert await jobs.tick() == 1
    (job,) = handler.ran
    assert (job.kind, job.key, job.tenant_id, job.due_at, job.payload) == (
        KIND,
        "k1",
        TENANT,
        due,
        {"text": "stand-up"},
    )


async def test_a_job_whose_handler_answers_none_is_removed(
    jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    await jobs.schedule(KIND, "k1", clock())
    await jobs.tick()
    assert await jobs.get(KIND, "k1") is None
    clock.advance(days=1)
    assert await jobs.tick() == 0
    assert handler.keys == ["k1"]


async def test_a_job_whose_handler_answers_a_time_runs_again_then(
    jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    handler.answer = lambda job: job.due_at + timedelta(days=1)
    first = clock()
    await jobs.schedule(KIND, "daily", first)
    await jobs.tick()
    stored = await jobs.get(KIND, "daily")
    assert stored is not None and stored.due_at == first + timedelta(days=1)
    clock.advance(hours=23)
    assert await jobs.tick() == 0
    clock.advance(hours=1)
    assert await jobs.tick() == 1
    assert [job.due_at for job in handler.ran] == [first, first + timedelta(days=1)]


async def test_scheduling_the_same_kind_and_key_again_moves_the_job(
    jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    start = clock()
    await jobs.schedule(KIND, "k1", start + timedelta(hours=1), payload={"v": 1})
    await jobs.schedule(KIND, "k1", start + timedelta(hours=2), payload={"v": 2})
    clock.advance(hours=1)
    assert await jobs.tick() == 0
    clock.advance(hours=1)
    assert await jobs.tick() == 1
    assert [job.payload for job in handler.ran] == [{"v": 2}]


async def test_a_cancelled_job_never_runs(jobs: JobScheduler, handler: Handler, clock: FakeClock) -> None:
    await jobs.schedule(KIND, "k1", clock() + timedelta(minutes=1))
    assert await jobs.cancel(KIND, "k1")
    assert await jobs.get(KIND, "k1") is None
    clock.advance(hours=1)
    assert await jobs.tick() == 0
    assert handler.ran == []


async def test_cancelling_an_unknown_job_answers_false(jobs: JobScheduler) -> None:
    assert not await jobs.cancel(KIND, "nothing-here")


async def test_jobs_of_one_kind_leave_other_kinds_alone(jobs: JobScheduler, handler: Handler, clock: FakeClock) -> None:
    other = Handler()
    jobs.handle("probe.other", other)
    await jobs.schedule(KIND, "same-key", clock())
    await jobs.schedule("probe.other", "same-key", clock() + timedelta(hours=1))
    assert await jobs.cancel(KIND, "same-key")
    assert await jobs.get("probe.other", "same-key") is not None


async def test_a_failing_handler_is_retried_later(jobs: JobScheduler, handler: Handler, clock: FakeClock) -> None:
    def fail_once(job: Job) -> datetime | None:
        if len(handler.ran) == 1:
            raise RuntimeError("Graph is down")
        return None

    handler.answer = fail_once
    await jobs.schedule(KIND, "k1", clock())
    assert await jobs.tick() == 1
    retry = await jobs.get(KIND, "k1")
    assert retry is not None and retry.due_at > clock()
    assert await jobs.tick() == 0  # not at once
    clock.set(retry.due_at)
    assert await jobs.tick() == 1
    assert await jobs.get(KIND, "k1") is None
    assert handler.keys == ["k1", "k1"]


async def _crash_while_running(jobs: JobScheduler, handler: Handler) -> None:
    """Start the due job and stop the scheduler mid-job, as a killed replica would: the claim stays behind."""
    handler.stuck = asyncio.Event()
    ticking = asyncio.create_task(jobs.tick())
    await asyncio.wait_for(handler.ran_once.wait(), GUARD)
    ticking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ticking


async def test_a_job_held_by_a_stopped_replica_waits_for_its_lease(
    store: SqlStore, jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    await jobs.schedule(KIND, "k1", clock())
    await _crash_while_running(jobs, handler)
    survivor = Handler()
    replica = scheduler_on(store, clock, survivor)
    clock.advance(LEASE - timedelta(seconds=1))
    await replica.recover()
    assert await replica.tick() == 0
    assert survivor.ran == []


async def test_a_claimed_job_whose_lease_expired_is_released_by_recover(
    store: SqlStore, jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    await jobs.schedule(KIND, "k1", clock())
    await _crash_while_running(jobs, handler)
    survivor = Handler()
    replica = scheduler_on(store, clock, survivor)
    clock.advance(LEASE + timedelta(seconds=1))
    await replica.recover()
    assert await replica.tick() == 1
    assert survivor.keys == ["k1"]
    assert await replica.get(KIND, "k1") is None


async def test_two_schedulers_on_one_database_never_run_the_same_job_twice(database_url: str, clock: FakeClock) -> None:
    stores = [await open_store(database_url) for _ in range(2)]
    try:
        handlers = [Handler(), Handler()]
        # Small claims, so the replicas' claims interleave.
        replicas = [scheduler_on(s, clock, h, batch_size=7) for s, h in zip(stores, handlers, strict=True)]
        keys = [f"job-{n:02d}" for n in range(40)]
        for key in keys:
            await replicas[0].schedule(KIND, key, clock())
        while sum(await asyncio.gather(*(r.tick() for r in replicas for _ in range(2)))):
            pass
        ran = handlers[0].keys + handlers[1].keys
        assert sorted(ran) == keys  # every job ran, and none twice
    finally:
        for s in stores:
            await s.close()


async def test_a_running_scheduler_runs_a_job_scheduled_while_it_sleeps(
    jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    naps = Naps()
    jobs.add_source(naps)
    async with running(jobs):
        await asleep(naps)
        await jobs.schedule(KIND, "now", clock())
        await asyncio.wait_for(handler.ran_once.wait(), GUARD)  # long before its 600 s nap would end
    assert handler.keys == ["now"]


async def test_wake_makes_a_sleeping_scheduler_look_now(
    store: SqlStore, jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    other_replica = scheduler_on(store, clock, Handler())
    naps = Naps()
    jobs.add_source(naps)
    async with running(jobs):
        await asleep(naps)
        await other_replica.schedule(KIND, "from-elsewhere", clock())  # wakes the other replica, not this one
        jobs.wake()
        await asyncio.wait_for(handler.ran_once.wait(), GUARD)
    assert handler.keys == ["from-elsewhere"]


async def test_a_running_scheduler_recovers_what_a_stopped_replica_held_at_start_up(
    store: SqlStore, jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    await jobs.schedule(KIND, "k1", clock())
    await _crash_while_running(jobs, handler)
    clock.advance(LEASE + timedelta(seconds=1))
    survivor = Handler()
    async with running(scheduler_on(store, clock, survivor)):
        await asyncio.wait_for(survivor.ran_once.wait(), GUARD)
    assert survivor.keys == ["k1"]


@dataclass
class LosesTheDatabase(Handler):
    """Its first run loses the database (closed under it, as an outage drops every connection); later runs
    succeed and set ``succeeded``."""

    store: SqlStore | None = None
    lost: asyncio.Event = field(default_factory=asyncio.Event)  # set once the database is closed
    succeeded: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, job: Job) -> datetime | None:
        self.ran.append(job)
        assert self.store is not None
        if len(self.ran) == 1:
            await self.store.close()
            self.lost.set()
            await self.store.db.fetchval("SELECT 1")  # raises: storage is gone
        self.succeeded.set()
        return None


async def test_a_job_whose_run_failed_on_storage_is_claimable_again_as_soon_as_storage_answers(
    store: SqlStore, clock: FakeClock
) -> None:
    handler = LosesTheDatabase(store=store)
    jobs = scheduler_on(store, clock, handler)
    await jobs.schedule(KIND, "k1", clock())
    with pytest.raises(StorageError):
        await jobs.tick()  # its failure could not be recorded, nor its claim given back: storage is down
    await store.open()  # the database answers again; the clock stands still (no lease, no retry delay)
    assert await jobs.tick() == 1
    assert handler.succeeded.is_set() and handler.keys == ["k1", "k1"] and await jobs.get(KIND, "k1") is None


async def test_a_restarted_scheduler_runs_a_job_again_once_its_storage_failure_is_over(
    store: SqlStore, clock: FakeClock
) -> None:
    handler = LosesTheDatabase(store=store)
    jobs = scheduler_on(store, clock, handler)
    await jobs.schedule(KIND, "k1", clock())
    loop = asyncio.create_task(jobs.run(asyncio.Event()))
    await asyncio.wait([loop], timeout=GUARD)  # the loop stops on the outage; its supervisor restarts it
    assert loop.done() and storage_failure(loop.exception() or Exception())
    await asyncio.wait_for(handler.lost.wait(), GUARD)
    await store.open()
    async with running(jobs):
        await asyncio.wait_for(handler.succeeded.wait(), GUARD)
    assert handler.keys == ["k1", "k1"]


async def test_a_restarted_scheduler_gives_back_a_claim_whose_answer_was_lost(
    store: SqlStore, jobs: JobScheduler, handler: Handler, clock: FakeClock
) -> None:
    await jobs.schedule(KIND, "k1", clock())
    # the claim committed but its answer was lost with the connection; the loop restarts
    await StoredJobs(store.db, clock, lambda: None).claim_due(clock(), limit=5, lease=LEASE, owner=jobs.owner)
    async with running(jobs):
        await asyncio.wait_for(handler.ran_once.wait(), GUARD)  # the clock stands still
    assert handler.keys == ["k1"]


async def test_only_the_claims_a_scheduler_holds_are_given_back(
    store: SqlStore, jobs: JobScheduler, clock: FakeClock
) -> None:
    await jobs.schedule(KIND, "mine", clock())
    await jobs.schedule(KIND, "theirs", clock() + timedelta(seconds=1))
    table = StoredJobs(store.db, clock, lambda: None)
    clock.advance(seconds=1)
    await table.claim_due(clock(), limit=1, lease=LEASE, owner="me")
    await table.claim_due(clock(), limit=1, lease=LEASE, owner="another replica")
    assert await table.release_held("me", clock()) == 1
    mine, theirs = await jobs.get(KIND, "mine"), await jobs.get(KIND, "theirs")
    assert mine is not None and mine.claim_token is None
    assert theirs is not None and theirs.claim_token is not None


class Failing:
    """A kind with one due job whose run raises ``error``; it records the claims given back."""

    name = "failing"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.released: list[object] = []

    async def next_due(self) -> datetime | None:
        return None

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str = "") -> list[object]:
        return ["the job"]

    async def run(self, job: object) -> None:
        raise self.error

    async def release(self, job: object, now: datetime) -> bool:
        self.released.append(job)
        return True

    async def release_held(self, owner: str, now: datetime) -> int:
        return 0

    async def recover(self, now: datetime) -> None:
        return None

    async def housekeeping(self, now: datetime) -> None:
        return None


@pytest.mark.parametrize(
    ("error", "given_back"),
    [
        (StorageError("the database went away"), True),
        (ConnectionResetError("connection reset by peer"), True),
        (ValueError("a bug"), False),  # retried when its lease expires, never in a tight loop
    ],
)
async def test_only_a_run_failed_on_storage_has_its_claim_given_back(
    clock: FakeClock, error: Exception, given_back: bool
) -> None:
    failing = Failing(error)
    scheduler = JobScheduler(clock=clock)
    scheduler.add_source(failing)
    await scheduler.tick()
    assert failing.released == (["the job"] if given_back else [])


async def test_without_a_jobs_table_scheduling_is_refused(clock: FakeClock) -> None:
    with pytest.raises(RuntimeError, match="no jobs table"):
        await JobScheduler(clock=clock).schedule(KIND, "k1", clock())
