"""Reminder scheduler benchmark: 100,000 pending reminders, 10,000 of them due within the same minute.

    .venv/bin/python bench/reminders.py                     # SQLite
    .venv/bin/python bench/reminders.py --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/reminders.py --pending 20000 --due 2000 --window 20   # quicker

The scheduler is the platform's job scheduler with the reminders job kind as its one source.
Prints the start-up time to a ready scheduler (recovery over the whole table included), the lateness of each firing
(from its due time to its card having left, p50/p99/max) and peak RSS. Sends go to the connector emulator in its own
process, rate limits lifted: this measures the scheduler alone. The baseline, run on the same data in the same
process, is the naive design: poll every second for what is due and send it one by one.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fanout import RemoteEmulator  # noqa: E402

from bench.databases import BenchDatabases  # noqa: E402
from bot.features.reminders import Reminders  # noqa: E402
from bot.features.reminders.cards import ReminderCards  # noqa: E402
from bot.features.reminders.jobs import ReminderJobs  # noqa: E402
from bot.features.reminders.store import ACTIVE, Reminder, ReminderStore  # noqa: E402
from bot.platform.cards import CardRenderer  # noqa: E402
from bot.platform.jobs import JobScheduler  # noqa: E402
from bot.platform.messaging.direct import DirectSender  # noqa: E402
from bot.platform.messaging.engine import StoredConversationResolver  # noqa: E402
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter  # noqa: E402
from bot.platform.storage import ConversationKind, ConversationRecord, open_store  # noqa: E402
from bot.platform.teams.connector import BotConnector  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def now() -> datetime:
    return datetime.now(UTC)


def user(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


async def seed(url: str, service_url: str, *, pending: int, due: int, window: float, start: datetime) -> None:
    store = await open_store(url, migrations=(Reminders.migrations,))
    async with store.transaction() as tx:
        for n in range(due):
            await tx.upsert_conversation(
                ConversationRecord(
                    f"a:rem-{n}", TENANT, ConversationKind.PERSONAL, service_url, {}, user_aad_object_id=user(n)
                )
            )
    batch: list[Reminder] = []
    for n in range(pending):
        if n < due:
            at = start + timedelta(seconds=window * n / due)  # spread over the minute
        else:
            at = start + timedelta(days=1 + n % 30, minutes=n % 1440)
        batch.append(
            Reminder(
                id=uuid.uuid4().hex,
                tenant_id=TENANT,
                creator_id=user(n % max(due, 1)),
                creator_name="Bench",
                target_kind="user",
                target_user_id=user(n % max(due, 1)),
                target_name=None,
                conversation_id=None,
                origin_conversation_id=None,
                text=f"Reminder {n}",
                source_link=None,
                zone="Europe/Paris",
                rule="FREQ=DAILY" if n % 3 == 0 else None,
                anchor=at if n % 3 == 0 else None,
                due_at=at,
                occurrence_at=at,
                status=ACTIVE,
            )
        )
        if len(batch) >= 5000:
            await ReminderStore(store).create_many(batch, now())
            batch = []
    if batch:
        await ReminderStore(store).create_many(batch, now())
    await store.close()


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"


async def run_scheduler(url: str, service_url: str, due: int) -> tuple[float, list[float]]:
    started = time.perf_counter()  # start-up: open storage (migrations checked), recover, ready
    store = await open_store(url, migrations=(Reminders.migrations,))
    client = BotConnector(None, max_connections=64)
    resolver = StoredConversationResolver(store, client, bot_id="28:bench", service_url=service_url)
    sender = DirectSender(client, resolver, TenantLimiter(100_000), ConversationLimiter())
    source = ReminderJobs(store, sender, ReminderCards(CardRenderer(), "Courier"), clock=now)
    scheduler = JobScheduler(clock=now, batch_size=200, concurrency=64)  # the platform's, with reminders alone
    scheduler.add_source(source)
    lateness: list[float] = []
    done = asyncio.Event()

    def fired(reminder: Reminder) -> None:
        lateness.append(max(0.0, (now() - reminder.due_at).total_seconds()))
        if len(lateness) >= due:
            done.set()

    source.on_fired = fired
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await scheduler.ready.wait()
    ready = time.perf_counter() - started
    await done.wait()
    stop.set()
    await task
    await client.close()
    await store.close()
    return ready, lateness


async def run_baseline(url: str, service_url: str, due: int) -> list[float]:
    """Poll once a second, send what is due one at a time (the design a first version often has)."""
    store = await open_store(url, migrations=(Reminders.migrations,))
    client = BotConnector(None)
    lateness: list[float] = []
    activity = {"type": "message", "text": "reminder"}
    while len(lateness) < due:
        rows = await store.db.fetch(
            "SELECT id, due_at, target_user_id FROM reminders WHERE status = 'active' AND due_at <= $1 ORDER BY due_at",
            now().isoformat(),
        )
        for row in rows:
            record = await store.find_personal_conversation(TENANT, row["target_user_id"])
            assert record is not None
            await client.send(service_url, record.conversation_id, activity)
            await store.db.execute("UPDATE reminders SET status = 'fired' WHERE id = $1", row["id"])
            lateness.append(max(0.0, (now() - datetime.fromisoformat(row["due_at"])).total_seconds()))
        await asyncio.sleep(1.0)
    await client.close()
    await store.close()
    return lateness


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the due ones fall")
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()

    emulator = RemoteEmulator(ceiling=1_000_000, enforce_limits=False)
    databases = BenchDatabases(args.postgres, prefix="courier-bench-reminders-")

    # Courier's scheduler.
    url = await databases.fresh("scheduler")
    seeded = time.perf_counter()
    start = now() + timedelta(seconds=15)
    await seed(url, emulator.url, pending=args.pending, due=args.due, window=args.window, start=start)
    seed_seconds = time.perf_counter() - seeded
    ready, lateness = await run_scheduler(url, emulator.url, args.due)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The baseline on a fresh copy of the same shape of data.
    base_url = await databases.fresh("baseline")
    base_start = now() + timedelta(seconds=15)
    await seed(base_url, emulator.url, pending=args.pending, due=args.due, window=args.window, start=base_start)
    base = await run_baseline(base_url, emulator.url, args.due)

    print(f"storage            {databases.label}")
    print(f"pending reminders  {args.pending:,} ({args.due:,} due within {args.window:.0f} s)")
    print(f"seed time          {seed_seconds:.1f} s")
    print(f"start-up to ready  {ready * 1000:.0f} ms (open storage, check migrations, recover, ready)")
    print(f"lateness           {percentiles(lateness)}  ({len(lateness):,} fired)")
    print(f"baseline lateness  {percentiles(base)}  (poll every second, send one by one)")
    print(f"peak RSS           {rss:.0f} MB")
    emulator.stop()
    await databases.close()


if __name__ == "__main__":
    asyncio.run(main())
