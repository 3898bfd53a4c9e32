"""Edit and recall benchmark: Courier's real engine sends a notification to N recipients, then edits every delivered
copy (``PUT``) and recalls it (``DELETE``), against the connector emulator in its own process enforcing Teams'
per-conversation limits and an app-wide ceiling (429 + Retry-After) and answering a share of requests 502/504.

    .venv/bin/python bench/edits.py                       # 10,000 copies at a 50 RPS ceiling, SQLite
    .venv/bin/python bench/edits.py --recipients 1000     # quicker
    .venv/bin/python bench/edits.py --kill                # kill -9 the engine halfway through the edit and the recall
    .venv/bin/python bench/edits.py --postgres postgresql://postgres@127.0.0.1:5432/test

Baseline, measured in the same run on the same copies: the send rate of the notification itself (phase 1). The edit
and the recall go through the same ledger, limiters and connector client, so they should match it. The emulator
counts, per message, how many updates and deletes it accepted: "applied twice" and "missed" come from there, not from
Courier's own ledger. A delete interrupted by the kill is repeated; if the first one had arrived, the emulator refuses
the repeat with a 404, as Teams does, and nothing changes ("refused repeats").
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import BenchDatabases  # noqa: E402
from bench.fanout import CARD, RemoteEmulator, _seed_worker, _worker, now, peak_rss_mb, run_engine  # noqa: E402
from bot.platform.messaging.ledger import OutreachLedger  # noqa: E402
from bot.platform.storage import open_store  # noqa: E402

EDITED = {**CARD, "body": [{"type": "TextBlock", "text": "Benchmark announcement, corrected"}]}


async def _change(database_url: str, what: str) -> dict[int, dict[str, int]]:
    """Edit (``what="edit"``) or recall the one notification; returns the operations' progress."""
    store = await open_store(database_url)
    try:
        ledger = OutreachLedger(store.db)
        nid = str(await store.db.fetchval("SELECT id FROM notifications"))
        if what == "edit":
            await ledger.operations.revise(nid, EDITED, now())
        elif what == "recall":
            await ledger.operations.recall(nid, mode="delete", card=None, now=now())
        return await ledger.operations.progress(nid)
    finally:
        await store.close()


async def _phase(args: argparse.Namespace, database_url: str, emulator: RemoteEmulator, kind: str) -> tuple[float, str]:
    """Run the engine until nothing is queued; with --kill (not for the sends), kill -9 a worker process once half
    of this phase's requests arrived and restart at once, leases untouched. Returns (seconds, note)."""
    started = time.perf_counter()
    note = ""
    if args.kill and kind != "send":
        before = emulator.call("count", kind)
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(database_url, emulator.url, args.ceiling, args.concurrency)
        )
        process.start()
        while emulator.call("count", kind) - before < args.recipients // 2:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.05)
        os.kill(process.pid or 0, signal.SIGKILL)
        process.join()
        note = f"killed at {emulator.call('count', kind) - before} {kind}s, restarted at once"
    await run_engine(database_url, emulator.url, args.ceiling, args.concurrency)
    return time.perf_counter() - started, note


def _line(label: str, count: int, seconds: float, ceiling: float, note: str = "") -> str:
    rate = count / seconds
    return f"{label:<9}{count:>7} in {seconds:6.1f} s = {rate:5.1f}/s = {rate / ceiling:.3f} of the ceiling  {note}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--ceiling", type=float, default=50.0, help="the connector's app-wide RPS ceiling")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--kill", action="store_true", help="kill -9 the engine halfway through edit and recall")
    parser.add_argument("--faults", type=float, default=0.002, help="share of requests answered 502/504")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    emulator = RemoteEmulator(ceiling=args.ceiling, enforce_limits=True)
    emulator.call("set", "random_5xx", args.faults)
    emulator.call("set", "random_5xx_statuses", (502, 504))
    databases = BenchDatabases(args.postgres)
    database_url = await databases.fresh()
    seeder = multiprocessing.get_context("spawn").Process(
        target=_seed_worker, args=(database_url, emulator.url, args.recipients)
    )
    seeder.start()
    await asyncio.to_thread(seeder.join)

    send_seconds, _ = await _phase(args, database_url, emulator, "send")
    await _change(database_url, "edit")
    edit_seconds, edit_note = await _phase(args, database_url, emulator, "update")
    edited = await _change(database_url, "report")
    recalled_tally = emulator.call("copies")  # before the recall: how often each message was updated
    await _change(database_url, "recall")
    recall_seconds, recall_note = await _phase(args, database_url, emulator, "delete")
    progress = await _change(database_url, "report")
    tally = emulator.call("copies")
    throttled = emulator.call("outcome", args.recipients)[2]

    n = args.recipients
    print(f"storage  {databases.label}; {n} recipients; ceiling {args.ceiling:.0f} RPS; {args.faults:.1%} 502/504")
    print(_line("send", n, send_seconds, args.ceiling, "(the baseline: the same copies' send rate, same run)"))
    print(_line("edit", edited[2].get("done:updated", 0), edit_seconds, args.ceiling, edit_note))
    print(_line("recall", progress[3].get("done:recalled", 0), recall_seconds, args.ceiling, recall_note))
    print(
        f"edit     applied twice {recalled_tally.get('updates=2', 0)}, missed {recalled_tally.get('updates=0', 0)}"
        f"  (ledger: {dict(sorted(edited[2].items()))})"
    )
    print(
        f"recall   applied twice {tally.get('deletes=2', 0)}, missed {n - tally.get('deleted', 0)}, "
        f"refused repeats {tally.get('refused_repeats', 0)}"
        f"  (ledger: {dict(sorted(progress[3].items()))})"
    )
    print(f"429s     {throttled} from the emulator over the three phases")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    emulator.stop()
    await databases.close()


if __name__ == "__main__":
    asyncio.run(main())
