"""Channel insights benchmark: a channel with 100,000 messages in 10,000 threads by 500 people over 90 days.

    .venv/bin/python bench/insights.py
    .venv/bin/python bench/insights.py --postgres postgresql://postgres@127.0.0.1:5432/test

Prints the ingest rate (messages stored per second, in batches as a backfill stores them, and one by one as live
messages arrive) and the time to compute the insights card's figures for 7, 30 and 90 days (target: under 1 s for
90 days). The baseline, in the same process, computes the same 90-day figures the naive way: every row of the
period fetched and counted in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import BenchDatabases  # noqa: E402
from bot.features.insights import Insights  # noqa: E402
from bot.features.insights.metrics import compute  # noqa: E402
from bot.features.insights.store import ChannelMessage, InsightsStore  # noqa: E402
from bot.platform.storage import open_store  # noqa: E402
from bot.platform.storage.base import Store  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHANNEL = "19:bench@thread.tacv2"


def messages(total: int, threads: int, people: int, now: datetime) -> list[ChannelMessage]:
    rng = random.Random(7)
    out: list[ChannelMessage] = []
    per_thread = total // threads
    for t in range(threads):
        start = now - timedelta(days=90) + timedelta(seconds=rng.uniform(0, 90 * 86400 - 7200))
        root = f"t{t}"
        author = f"user-{rng.randrange(people)}"
        out.append(
            ChannelMessage(
                CHANNEL,
                root,
                TENANT,
                "19:team",
                root,
                False,
                author,
                author.title(),
                start,
                rng.random() < 0.3,
                0,
                "question?",
            )
        )
        at = start
        for r in range(per_thread - 1):
            at += timedelta(seconds=rng.expovariate(1 / 600))
            who = f"user-{rng.randrange(people)}"
            out.append(
                ChannelMessage(
                    CHANNEL,
                    f"{root}-{r}",
                    TENANT,
                    "19:team",
                    root,
                    True,
                    who,
                    who.title(),
                    min(at, now),
                    False,
                    0,
                    None,
                )
            )
    return out


async def naive_90_days(store: Store, now: datetime) -> float:
    started = time.perf_counter()
    rows = await store.db.fetch(
        "SELECT message_id, thread_id, is_reply, author_id, created_at FROM channel_messages WHERE channel_id = $1 "
        "AND deleted = 0 AND created_at >= $2",
        CHANNEL,
        (now - timedelta(days=90)).isoformat(),
    )
    authors = Counter(r["author_id"] for r in rows)
    first: dict[str, str] = {}
    for r in rows:
        if r["is_reply"]:
            first[r["thread_id"]] = min(first.get(r["thread_id"], r["created_at"]), r["created_at"])
    _ = (len(rows), len(authors), authors.most_common(5), len(first))
    return time.perf_counter() - started


async def backfill_run(url: str, threads: int) -> tuple[int, float, int]:
    """Read a channel of ``threads`` threads x 10 replies from the Graph emulator (4 requests/s per channel)."""
    from bot.features.insights.backfill import Backfill
    from bot.platform.graph import GraphClient
    from bot.platform.identity.credentials import MsalAppCredential
    from bot.platform.settings import Settings
    from bot.sandbox.emulators.entra import EntraEmulator
    from bot.sandbox.emulators.graph import GraphEmulator
    from bot.sandbox.emulators.graph_channels import install_channels, message
    from bot.sandbox.emulators.tls import TestCA

    ca = TestCA()
    import os

    os.environ["REQUESTS_CA_BUNDLE"] = str(ca.ca_bundle_path)
    entra = EntraEmulator(ssl_context=ca.server_ssl_context())
    entra.start()
    graph = GraphEmulator(entra, ca.server_ssl_context())
    state = install_channels(graph)
    graph.start()
    app = "00000000-0000-0000-0000-0000000bac0f"
    entra.register_app(
        app, tenant=TENANT, secret="s", roles={"https://graph.microsoft.com": ("ChannelMessage.Read.Group",)}
    )
    start = datetime.now(UTC) - timedelta(days=30)
    for t in range(threads):
        at = start + timedelta(minutes=t)
        replies = [message(f"b{t}-{n}", f"u{n}", "U", at + timedelta(seconds=n + 1), "ok", f"b{t}") for n in range(10)]
        state.add_thread("19:backfill@thread.tacv2", message(f"b{t}", "u0", "U", at, "Anyone?"), replies)
    credential = MsalAppCredential(
        Settings(app_id=app, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    )
    client = GraphClient(graph.url, ssl_context=ca.client_ssl_context())
    store = await open_store(url, migrations=(Insights.migrations,))
    started = time.perf_counter()
    count = await Backfill(store, client, credential).run(TENANT, "19:team", "19:backfill@thread.tacv2")
    seconds = time.perf_counter() - started
    await client.close()
    await store.close()
    graph.stop()
    entra.stop()
    return count, seconds, state.throttled


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--backfill-threads", type=int, default=1_000, help="threads (x 11 messages) to backfill")
    args = parser.parse_args()

    databases = BenchDatabases(args.postgres, prefix="courier-bench-insights-")
    url = await databases.fresh("insights")
    store = await open_store(url, migrations=(Insights.migrations,))
    now = datetime.now(UTC)
    data = messages(args.messages, args.threads, args.people, now)

    started = time.perf_counter()
    for start in range(0, len(data) - 1000, 1000):
        await InsightsStore(store).ingest(data[start : start + 1000])
    batch_rate = (len(data) - 1000) / (time.perf_counter() - started)
    started = time.perf_counter()
    for message in data[-1000:]:  # live: one message per turn
        await InsightsStore(store).ingest([message])
    live_rate = 1000 / (time.perf_counter() - started)

    timings: dict[int, list[float]] = {}
    for days in (7, 30, 90):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            await compute(InsightsStore(store), [CHANNEL], tenant_id=TENANT, now=now, days=days)
            runs.append(time.perf_counter() - started)
        timings[days] = runs
    baseline = statistics.median([await naive_90_days(store, now) for _ in range(3)])
    backfilled, backfill_seconds, throttled = await backfill_run(url, args.backfill_threads)

    print(f"storage            {databases.label}")
    print(f"channel            {len(data):,} messages, {args.threads:,} threads, {args.people} people, 90 days")
    print(f"ingest (backfill)  {batch_rate:,.0f} messages/s  (batches of 1,000)")
    print(f"ingest (live)      {live_rate:,.0f} messages/s  (one per turn)")
    for days, runs in timings.items():
        print(
            f"card figures {days:>2}d   {statistics.median(runs) * 1000:.0f} ms"
            "  (median of 3; includes the previous period)"
        )
    print(f"baseline 90d       {baseline * 1000:.0f} ms  (fetch the period's rows, count in Python; fewer figures)")
    print(
        f"backfill           {backfilled:,} messages in {backfill_seconds:.1f} s = {backfilled / backfill_seconds:,.0f}"
        f" messages/s, paced at 4 requests/s per channel ({throttled} 429s from the Graph emulator)"
    )
    print(f"peak RSS           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    await store.close()
    await databases.close()


if __name__ == "__main__":
    asyncio.run(main())
