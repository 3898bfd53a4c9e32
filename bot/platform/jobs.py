"""The one durable job scheduler: reminders, digests, subscription renewals and any timed work are kinds of it.

One loop sleeps until the earliest due job across every kind (or until :meth:`JobScheduler.wake`, or at most
``max_sleep`` so work written by another replica is seen), claims due jobs with a lease, runs them side by side up to
``concurrency``, and recovers what a crashed replica held: at start-up and, while running, every ``recover_every``.

A storage outage does not hold jobs for a whole lease: a job whose run failed on a storage error is given back
(:meth:`JobSource.release`) as soon as the database answers, and when the loop restarts after a failure (a claim whose
answer was lost with the connection) it gives back every claim it holds but no task works on
(:meth:`JobSource.release_held`; claims carry the scheduler's ``owner``). Only what has not fired is given back: a
reminder already marked *sending* stays for lease recovery, which never sends it twice.

A *kind* is a :class:`JobSource`. Most features use the built-in :class:`StoredJobs` kind through
:meth:`JobScheduler.schedule` and a handler per job type (a row in the ``jobs`` table each; the handler answers the
next due time to repeat, or None when the job is done). A feature whose jobs are its own rows (reminders, with their
quiet hours and exactly-once marks) registers its own source with :meth:`JobScheduler.add_source`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.platform.storage.base import Database, Row, storage_failure
from bot.platform.storage.times import from_db_time, to_db_time
from bot.platform.telemetry import Telemetry
from bot.platform.waiting import first_of

logger = logging.getLogger(__name__)


class JobSource(Protocol):
    """One kind of timed work, with its own storage of what is due."""

    name: str

    async def next_due(self) -> datetime | None: ...

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str = "") -> Sequence[object]:
        """Claim due jobs for ``lease``; the claims name ``owner`` (see :meth:`release_held`)."""
        ...

    async def run(self, job: Any) -> None:
        """Do one claimed job and record its outcome (the scheduler logs what escapes)."""
        ...

    async def recover(self, now: datetime) -> None:
        """Release what a stopped replica held past its lease."""
        ...

    async def release(self, job: Any, now: datetime) -> bool:
        """Give back a claim this scheduler holds on ``job``, due again now, unless it already fired or may have
        (then it stays for :meth:`recover`); True when it was given back."""
        ...

    async def release_held(self, owner: str, now: datetime) -> int:
        """Give back, as :meth:`release` does, every claim ``owner`` holds (its tasks are all done); how many."""
        ...

    async def housekeeping(self, now: datetime) -> None:
        """Occasional clean-up (purges); called about hourly."""
        ...


@dataclass(frozen=True, slots=True)
class Job:
    kind: str
    key: str
    tenant_id: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int = 0
    claim_token: str | None = None


# A handler runs a job and answers when it should run again (None: it is done and removed).
JobHandler = Callable[[Job], Awaitable[datetime | None]]


class JobScheduler:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(minutes=2),
        batch_size: int = 200,
        concurrency: int = 32,
        max_sleep: float = 30.0,
        recover_every: timedelta = timedelta(seconds=30),
        telemetry: Telemetry | None = None,
    ) -> None:
        self.telemetry = telemetry or Telemetry.off()
        self._clock = clock
        self._lease = lease
        self._batch = batch_size
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._max_sleep = max_sleep
        self._recover_every = recover_every
        self._sources: list[JobSource] = []
        self._stored: StoredJobs | None = None
        self._store: Callable[[], Database] | None = None
        self._handlers: dict[str, JobHandler] = {}
        self._wake = asyncio.Event()
        self.ready = asyncio.Event()
        self.owner = uuid.uuid4().hex  # named by this scheduler's claims
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsettled: list[
            tuple[JobSource, object]
        ] = []  # claims a failed run left, given back when storage answers

    # -- kinds -------------------------------------------------------------------------------------------
    def add_source(self, source: JobSource) -> None:
        if any(s.name == source.name for s in self._sources):
            raise ValueError(f"job kind {source.name!r} is registered twice")
        self._sources.append(source)

    def use_table(self, db: Database) -> None:
        """Keep plain jobs in the ``jobs`` table of ``db`` (done once by the server)."""
        if self._stored is not None:
            raise RuntimeError("the job scheduler already has its jobs table")
        self._stored = StoredJobs(db, self._clock, self.wake, self._handlers)
        self.add_source(self._stored)

    def bind(self, database: Callable[[], Database], clock: Callable[[], datetime]) -> None:
        """Where the jobs table will be and whose clock to keep, when the table is not given yet (the services
        bundle does this, so a scheduler always reaches its store; the table is opened at first use)."""
        if self._stored is None:
            self._store = database
            self._clock = clock

    @property
    def bound(self) -> bool:
        return self._stored is not None or self._store is not None

    def handle(self, kind: str, handler: JobHandler) -> None:
        """Run ``handler`` for every stored job of ``kind`` (declared at registration; touches no storage)."""
        if kind in self._handlers:
            raise ValueError(f"job kind {kind!r} has two handlers")
        self._handlers[kind] = handler

    async def schedule(
        self, kind: str, key: str, due_at: datetime, *, tenant_id: str = "", payload: dict[str, Any] | None = None
    ) -> None:
        """Create or move the job (``kind``, ``key``) to ``due_at``."""
        await self._table().put(Job(kind, key, tenant_id, due_at, dict(payload or {})))
        self.wake()

    async def cancel(self, kind: str, key: str) -> bool:
        return await self._table().delete(kind, key)

    async def get(self, kind: str, key: str) -> Job | None:
        return await self._table().get(kind, key)

    def _table(self) -> StoredJobs:
        if self._stored is None and self._store is not None:
            self.use_table(self._store())
        if self._stored is None:
            raise RuntimeError("the job scheduler has no jobs table (use_table was not called)")
        return self._stored

    # -- running -----------------------------------------------------------------------------------------
    def wake(self) -> None:
        """Something was scheduled or changed: look again now."""
        self._wake.set()

    async def recover(self) -> None:
        now = self._clock()
        for source in self._sources:
            await source.recover(now)
            await source.housekeeping(now)

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs as they fall due until ``stop``: a pipeline, not batches (a job due while others run is claimed
        as soon as a slot is free)."""
        if self._store is not None:
            self._table()
        await self._restart()
        await self.recover()
        self.ready.set()
        recovered_at = housekept_at = self._clock()
        tasks = self._tasks
        while not stop.is_set():
            self._wake.clear()
            await self._settle()
            now = self._clock()
            if now - recovered_at >= self._recover_every:
                recovered_at = now
                await self._each(now, housekeeping=False)
            if now - housekept_at >= timedelta(hours=1):
                housekept_at = now
                await self._each(now, housekeeping=True)
            free = self._concurrency - len(tasks)
            if free <= 0:
                await asyncio.wait(set(tasks), return_when=asyncio.FIRST_COMPLETED)
                continue
            if await self._claim_into(tasks, free):
                await asyncio.sleep(0)  # let the new jobs start before looking again
                continue
            await self._idle(stop)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def tick(self) -> int:
        """Run everything due now, once; returns how many jobs ran (tests and tools)."""
        if self._store is not None:
            self._table()
        await self._settle()
        claimed: list[tuple[JobSource, object]] = []
        for source in self._sources:
            jobs = await source.claim_due(self._clock(), limit=self._batch, lease=self._lease, owner=self.owner)
            claimed.extend((source, job) for job in jobs)
        await asyncio.gather(*(self._guarded(source, job) for source, job in claimed))
        await self._settle()
        return len(claimed)

    async def _restart(self) -> None:
        """(Re)starting, perhaps after a storage failure stopped the loop: once the runs a failed loop left are
        done, give back their failed claims and every claim this scheduler holds that no task works on (one whose
        answer was lost with the connection would otherwise wait for its lease)."""
        if self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)
        await self._settle()
        released = 0
        for source in self._sources:
            released += await source.release_held(self.owner, self._clock())
        if released:
            logger.warning("gave back %d job claims this scheduler held without running them", released)

    async def _settle(self) -> None:
        """Give back the claims of runs that failed on storage; raises while storage is still down."""
        while self._unsettled:
            source, job = self._unsettled[0]
            await source.release(job, self._clock())
            self._unsettled.pop(0)

    async def _claim_into(self, tasks: set[asyncio.Task[None]], free: int) -> bool:
        claimed_any = False
        for source in self._sources:
            if free <= 0:
                break
            jobs = await source.claim_due(
                self._clock(), limit=min(free, self._batch), lease=self._lease, owner=self.owner
            )
            for job in jobs:
                task = asyncio.create_task(self._guarded(source, job))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            free -= len(jobs)
            claimed_any = claimed_any or bool(jobs)
        return claimed_any

    async def _idle(self, stop: asyncio.Event) -> None:
        wait = self._max_sleep
        for source in self._sources:
            due = await source.next_due()
            if due is not None:
                wait = min(wait, max(0.0, (due - self._clock()).total_seconds()))
        if wait <= 0:
            await asyncio.sleep(0.001)  # due but claimed by another replica: give it a moment
            return
        await first_of(self._wake, stop, timeout=min(wait, self._recover_every.total_seconds()))

    async def _each(self, now: datetime, *, housekeeping: bool) -> None:
        for source in self._sources:
            try:
                await (source.housekeeping(now) if housekeeping else source.recover(now))
            except Exception:
                logger.exception("job kind %s: recovery or clean-up failed; tried again later", source.name)

    async def _guarded(self, source: JobSource, job: object) -> None:
        async with self._slots:
            due = getattr(job, "due_at", None)
            if isinstance(due, datetime):
                self.telemetry.lateness((self._clock() - due).total_seconds(), source.name)
            try:
                with self.telemetry.span("job run", {"job.kind": source.name}):
                    await source.run(job)
            except Exception as exc:
                if not storage_failure(exc):  # a bug: retried when its claim expires, not straight away
                    logger.exception("a %s job failed; it is retried when its claim expires", source.name)
                    return
                logger.exception("a %s job failed on storage; its claim is given back once it answers", source.name)
                self._unsettled.append((source, job))
                self.wake()


def _job(row: Row) -> Job:
    return Job(
        kind=row["kind"],
        key=row["key"],
        tenant_id=row["tenant_id"],
        due_at=from_db_time(row["due_at"]),
        payload=json.loads(row["payload"] or "{}"),
        attempts=int(row["attempts"]),
        claim_token=row["claim_token"],
    )


MAX_JOB_ATTEMPTS = 10  # about five hours of retries (2 + 4 + ... + 60 minutes) before a plain job is given up
MAX_RETRY_DELAY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """How long a plain job waits after its ``attempts``-th failure: 2 minutes, doubling, at most an hour."""
    return min(MAX_RETRY_DELAY, timedelta(minutes=2 ** min(max(attempts, 1), 10)))


class StoredJobs:
    """Plain jobs in the ``jobs`` table, one row per (kind, key), run by the handler registered for their kind."""

    name = "jobs"

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
        handlers: dict[str, JobHandler] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._wake = wake
        self.handlers: dict[str, JobHandler] = handlers if handlers is not None else {}

    async def put(self, job: Job) -> None:
        now = to_db_time(self._clock())
        await self._db.execute(
            "INSERT INTO jobs (kind, key, tenant_id, due_at, payload, status, attempts, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, 'waiting', 0, $6, $6) ON CONFLICT (kind, key) DO UPDATE SET "
            "tenant_id = excluded.tenant_id, due_at = excluded.due_at, payload = excluded.payload, "
            "status = 'waiting', claim_token = NULL, claimed_until = NULL, attempts = 0, "
            "updated_at = excluded.updated_at",
            job.kind,
            job.key,
            job.tenant_id,
            to_db_time(job.due_at),
            json.dumps(job.payload, sort_keys=True),
            now,
        )

    async def get(self, kind: str, key: str) -> Job | None:
        row = await self._db.fetchrow("SELECT * FROM jobs WHERE kind = $1 AND key = $2", kind, key)
        return _job(row) if row is not None else None

    async def delete(self, kind: str, key: str) -> bool:
        return await self._db.execute("DELETE FROM jobs WHERE kind = $1 AND key = $2", kind, key) > 0

    async def next_due(self) -> datetime | None:
        value = await self._db.fetchval("SELECT MIN(due_at) FROM jobs WHERE status = 'waiting'")
        return from_db_time(value) if value is not None else None

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str = "") -> list[Job]:
        token = claim_token(owner)
        lock = " FOR UPDATE SKIP LOCKED" if self._db.dialect == "postgresql" else ""
        async with self._db.transaction() as tx:
            rows = await tx.fetch(
                "UPDATE jobs SET status = 'running', claim_token = $1, claimed_until = $2, attempts = attempts + 1, "
                "updated_at = $3 WHERE (kind, key) IN (SELECT kind, key FROM jobs WHERE status = 'waiting' "
                f"AND due_at <= $3 ORDER BY due_at LIMIT $4{lock}) RETURNING *",
                token,
                to_db_time(now + lease),
                to_db_time(now),
                limit,
            )
        return [_job(r) for r in rows]

    async def run(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:  # a kind whose feature is not wired here: leave it for a replica that has it
            logger.warning("no handler for %s jobs; left waiting", job.kind)
            await self._finish(job, job.due_at + timedelta(minutes=10))
            return
        try:
            upcoming = await handler(job)
        except Exception:
            await self._failed(job)  # raises while storage is down: the scheduler gives the claim back once it answers
            return
        await self._finish(job, upcoming)

    async def _failed(self, job: Job) -> None:
        """A failing handler: retried after 2, 4, 8, ... minutes (at most an hour), keeping its attempts, until
        :data:`MAX_JOB_ATTEMPTS`; then the job is marked ``failed`` (kept for inspection, run no more)."""
        if job.attempts >= MAX_JOB_ATTEMPTS:
            logger.exception("a %s job failed %d times; given up (status failed)", job.kind, job.attempts)
            await self._db.execute(
                "UPDATE jobs SET status = 'failed', claim_token = NULL, claimed_until = NULL, updated_at = $4 "
                "WHERE kind = $1 AND key = $2 AND claim_token = $3",
                job.kind,
                job.key,
                job.claim_token,
                to_db_time(self._clock()),
            )
            return
        delay = retry_delay(job.attempts)
        logger.exception("a %s job failed (attempt %d); retried in %s", job.kind, job.attempts, delay)
        await self._finish(job, self._clock() + delay, keep_attempts=True)

    async def _finish(self, job: Job, upcoming: datetime | None, *, keep_attempts: bool = False) -> None:
        if upcoming is None:
            await self._db.execute(
                "DELETE FROM jobs WHERE kind = $1 AND key = $2 AND claim_token = $3", job.kind, job.key, job.claim_token
            )
            return
        await self._db.execute(
            "UPDATE jobs SET status = 'waiting', due_at = $4, claim_token = NULL, claimed_until = NULL, "
            f"attempts = {'attempts' if keep_attempts else '0'}, updated_at = $5 "
            "WHERE kind = $1 AND key = $2 AND claim_token = $3",
            job.kind,
            job.key,
            job.claim_token,
            to_db_time(upcoming),
            to_db_time(self._clock()),
        )

    async def recover(self, now: datetime) -> None:
        released = await self._db.execute(
            "UPDATE jobs SET status = 'waiting', claim_token = NULL, claimed_until = NULL, updated_at = $1 "
            "WHERE status = 'running' AND claimed_until < $1",
            to_db_time(now),
        )
        if released:
            logger.warning("%d jobs held by a stopped replica were released", released)
            self._wake()

    async def release(self, job: Job, now: datetime) -> bool:
        """Waiting again at its due time, the attempt its claim counted given back."""
        return (
            await self._db.execute(
                f"{_GIVE_BACK} WHERE kind = $2 AND key = $3 AND claim_token = $4 AND status = 'running'",
                to_db_time(now),
                job.kind,
                job.key,
                job.claim_token,
            )
            > 0
        )

    async def release_held(self, owner: str, now: datetime) -> int:
        released = await self._db.execute(
            f"{_GIVE_BACK} WHERE status = 'running' AND claim_token LIKE $2", to_db_time(now), f"{owner}:%"
        )
        if released:
            self._wake()
        return released

    async def housekeeping(self, now: datetime) -> None:
        return None


_GIVE_BACK = (
    "UPDATE jobs SET status = 'waiting', claim_token = NULL, claimed_until = NULL, "
    "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $1"
)


def claim_token(owner: str) -> str:
    """A new claim's token, naming its ``owner`` (a scheduler) when there is one."""
    return f"{owner}:{uuid.uuid4().hex}" if owner else uuid.uuid4().hex
