"""Fan-out benchmark: Courier's real outreach engine against a local Bot Connector emulator that enforces Teams'
per-conversation limits and an app-wide ceiling (429 + Retry-After when exceeded) and injects transient 5xx.

    .venv/bin/python bench/fanout.py                      # 10,000 recipients at a 50 RPS ceiling, SQLite
    .venv/bin/python bench/fanout.py --recipients 2000    # quicker
    .venv/bin/python bench/fanout.py --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/fanout.py --unlimited          # ceiling lifted: the engine alone
    .venv/bin/python bench/fanout.py --kill               # kill -9 a worker halfway, restart, count duplicates/lost
    .venv/bin/python bench/fanout.py --replicas 2 --postgres postgresql://...   # two engines, one ledger

Each run prints its figures next to a baseline measured in the same process: a naive sequential loop over the same
connector client (one request at a time, no ledger, no limiter) for a slice of the recipients.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import BenchDatabases  # noqa: E402
from bot.platform.messaging.engine import NotificationActivities, OutreachEngine, StoredConversationResolver  # noqa: E402
from bot.platform.messaging.ledger import OutreachLedger  # noqa: E402
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter  # noqa: E402
from bot.platform.messaging.replicas import ReplicaCoordinator  # noqa: E402
from bot.platform.storage import ConversationKind, ConversationRecord, open_store  # noqa: E402
from bot.platform.teams.connector import BotConnector  # noqa: E402
from bot.sandbox.emulators.connector import ConnectorEmulator  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Benchmark announcement"}]}


class RemoteEmulator:
    """The connector emulator in its own process, so its HTTP work does not share the engine's GIL."""

    def __init__(self, *, ceiling: float, enforce_limits: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_emulator, args=(child, ceiling, enforce_limits), daemon=True)
        self._process.start()
        self.url: str = self._pipe.recv()

    def call(self, command: str, *args: Any) -> Any:
        self._pipe.send((command, args))
        return self._pipe.recv()

    def stop(self) -> None:
        self.call("stop")
        self._process.join(10)


def _serve_emulator(pipe: Any, ceiling: float, enforce_limits: bool) -> None:
    emulator = ConnectorEmulator(require_auth=False, ceiling_rps=ceiling, enforce_limits=enforce_limits)
    pipe.send(emulator.start())
    while True:
        command, args = pipe.recv()
        if command == "stop":
            emulator.stop()
            pipe.send(None)
            return
        if command == "set":
            name, value = args
            setattr(emulator, name, value)
            pipe.send(None)
        elif command == "clear":
            emulator.recorded.clear()
            pipe.send(None)
        elif command == "sent":
            pipe.send(len(emulator.recorded))
        elif command == "count":
            (kind,) = args
            pipe.send(sum(1 for r in emulator.recorded if r.kind == kind))
        elif command == "copies":
            pipe.send(_tally(emulator))
        elif command == "outcome":
            (recipients,) = args
            per_conversation = Counter(
                r.conversation_id for r in emulator.recorded if r.conversation_id.startswith("a:bench-")
            )
            duplicates = sum(c - 1 for c in per_conversation.values() if c > 1)
            pipe.send((duplicates, recipients - len(per_conversation), emulator.throttled))


def _tally(emulator: ConnectorEmulator) -> dict[str, int]:
    """What the benchmark's messages went through: how many were updated or deleted 0, 1 or 2+ times (accepted by
    the emulator), how many got a repeated delete refused with a 404 (changing nothing), and how many are deleted."""
    tally: Counter[str] = Counter()
    for activity_id, copy in emulator.copies.items():
        if not copy.conversation_id.startswith("a:bench-"):
            continue
        tally["copies"] += 1
        tally[f"updates={min(copy.updates, 2)}"] += 1
        tally[f"deletes={min(copy.deletes, 2)}"] += 1
        tally["refused_repeats"] += int(copy.deletes > 0 and emulator.missing[activity_id] > 0)
        tally["deleted"] += int(copy.deleted)
    return dict(tally)


def now() -> datetime:
    return datetime.now(UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def user_id(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


async def seed(database_url: str, service_url: str, recipients: int) -> str:
    """Conversations for every recipient (as after install) and one notification to all of them."""
    store = await open_store(database_url)
    try:
        async with store.transaction() as tx:
            for n in range(recipients):
                await tx.upsert_conversation(
                    ConversationRecord(
                        conversation_id=f"a:bench-{n:07d}",
                        tenant_id=TENANT,
                        kind=ConversationKind.PERSONAL,
                        service_url=service_url,
                        reference={},
                        user_aad_object_id=user_id(n),
                    )
                )
        notification, _ = await OutreachLedger(store.db).create_notification(
            tenant_id=TENANT,
            sender="bench",
            idempotency_key=uuid.uuid4().hex,
            card=CARD,
            ack_required=False,
            send_at=now(),
            now=now(),
            recipients=((f"user:{user_id(n)}", {"userId": user_id(n)}) for n in range(recipients)),
        )
        return notification.id
    finally:
        await store.close()


async def run_engine(database_url: str, service_url: str, rps: float, concurrency: int) -> dict[str, int]:
    store = await open_store(database_url)
    client = BotConnector(None, max_connections=concurrency * 2)
    limiter = TenantLimiter(rps)
    replicas = ReplicaCoordinator(store, limiter, clock=now, heartbeat=0.5, expiry=3)
    stop = asyncio.Event()
    try:
        await replicas.beat()
        heartbeat = asyncio.create_task(replicas.run(stop))
        engine = OutreachEngine(
            store,
            client,
            StoredConversationResolver(store, client, bot_id="28:bench", service_url=service_url),
            NotificationActivities(store),
            clock=now,
            tenant_limiter=limiter,
            conversation_limiter=ConversationLimiter(),
            concurrency=concurrency,
            batch_size=500,
            engine_id=replicas.engine_id,
        )
        while True:
            await engine.drain()
            pending = await store.db.fetchval(
                "SELECT (SELECT COUNT(*) FROM deliveries WHERE state IN ('queued', 'claimed')) + "
                "(SELECT COUNT(*) FROM delivery_operations WHERE state IN ('queued', 'claimed'))"
            )
            if not pending:
                break
            await asyncio.sleep(0.2)  # retries scheduled after Retry-After, or another replica's claims
        stop.set()
        await heartbeat
        return engine.stats
    finally:
        await client.close()
        await store.close()


async def baseline(service_url: str, count: int) -> float:
    """A naive loop: one send at a time over the same client, no ledger and no limiter. Returns messages/s."""
    client = BotConnector(None)
    started = time.perf_counter()
    for n in range(count):
        await client.send(
            service_url,
            f"a:baseline-{n}",
            {
                "type": "message",
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": CARD}],
            },
        )
    elapsed = time.perf_counter() - started
    await client.close()
    return count / elapsed


def _seed_worker(database_url: str, service_url: str, recipients: int) -> None:
    asyncio.run(seed(database_url, service_url, recipients))


def _worker(database_url: str, service_url: str, rps: float, concurrency: int) -> None:
    asyncio.run(run_engine(database_url, service_url, rps, concurrency))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--ceiling", type=float, default=50.0, help="the connector's app-wide RPS ceiling")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--unlimited", action="store_true", help="lift the ceiling: measure the engine alone")
    parser.add_argument("--kill", action="store_true", help="kill -9 the worker halfway and restart it")
    parser.add_argument("--replicas", type=int, default=1, help="engines in separate processes (PostgreSQL)")
    parser.add_argument("--faults", type=float, default=0.002, help="share of requests answered 502/504")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--profile", default="", help="write a cProfile of the engine run to this file")
    args = parser.parse_args()

    rps = 100_000.0 if args.unlimited else args.ceiling
    emulator = RemoteEmulator(ceiling=args.ceiling, enforce_limits=False)
    service_url = emulator.url

    databases = BenchDatabases(args.postgres)
    database_url = await databases.fresh()

    base = await baseline(service_url, 300)  # the raw path, without Teams' limits
    emulator.call("set", "enforce_limits", not args.unlimited)
    emulator.call("clear")
    # Transient faults Teams documents as retryable; a 500 would be "maybe delivered" and count as lost here.
    emulator.call("set", "random_5xx", args.faults)
    emulator.call("set", "random_5xx_statuses", (502, 504))

    seed_started = time.perf_counter()
    # Seeded by a child process, so this process's peak RSS is the engine's own.
    seeder = multiprocessing.get_context("spawn").Process(
        target=_seed_worker, args=(database_url, service_url, args.recipients)
    )
    seeder.start()
    await asyncio.to_thread(seeder.join)
    if seeder.exitcode != 0:
        raise SystemExit(f"seeding failed (exit {seeder.exitcode})")
    seed_seconds = time.perf_counter() - seed_started

    started = time.perf_counter()
    if args.kill:
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(database_url, service_url, rps, args.concurrency)
        )
        process.start()
        while emulator.call("sent") < args.recipients // 2:  # noqa: ASYNC110 - the count lives in another process
            await asyncio.sleep(0.05)
        os.kill(process.pid or 0, signal.SIGKILL)
        process.join()
        killed_at = emulator.call("sent")
        # Restarted at once, leases untouched: the new engine's heartbeat releases the killed engine's claims as
        # soon as its heartbeat is stale (claimed rows requeue, interrupted sends become maybe_delivered).
        stats = await run_engine(database_url, service_url, rps, args.concurrency)
    elif args.replicas > 1:
        workers = [
            multiprocessing.get_context("spawn").Process(
                target=_worker, args=(database_url, service_url, rps, args.concurrency)
            )
            for _ in range(args.replicas)
        ]
        for worker in workers:
            worker.start()
        while any(w.is_alive() for w in workers):  # noqa: ASYNC110 - the workers are other processes
            await asyncio.sleep(0.1)
        stats = {"replicas": args.replicas}
    elif args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        stats = await run_engine(database_url, service_url, rps, args.concurrency)
        profiler.disable()
        profiler.dump_stats(args.profile)
    else:
        stats = await run_engine(database_url, service_url, rps, args.concurrency)
    elapsed = time.perf_counter() - started

    duplicates, lost, throttled = emulator.call("outcome", args.recipients)
    store = await open_store(database_url)
    maybe = int(await store.db.fetchval("SELECT COUNT(*) FROM deliveries WHERE state = 'maybe_delivered'"))
    await store.close()
    delivered = args.recipients - lost
    throughput = delivered / elapsed
    print(f"storage            {databases.label}" + (f", {args.replicas} replicas" if args.replicas > 1 else ""))
    print(f"recipients         {args.recipients}")
    print(f"seed time          {seed_seconds:.1f} s (conversations + ledger rows)")
    print(f"wall time          {elapsed:.1f} s")
    print(
        f"throughput         {throughput:.1f} msg/s"
        + ("" if args.unlimited else f"  = {throughput / args.ceiling:.3f} of the {args.ceiling:.0f} RPS ceiling")
    )
    print(f"baseline           {base:.1f} msg/s  (naive sequential loop, same client, same process)")
    print(f"duplicates         {duplicates}")
    print(f"lost               {lost}  (maybe_delivered recorded: {maybe})")
    print(f"429s from emulator {throttled}")
    print(f"engine outcomes    {dict(sorted(stats.items()))}")
    if args.kill:
        print(f"killed at          {killed_at} sent, then restarted")
    print(f"peak RSS           {peak_rss_mb():.0f} MB  (the engine's process; seeding ran in a child)")
    emulator.stop()
    await databases.close()


if __name__ == "__main__":
    asyncio.run(main())
