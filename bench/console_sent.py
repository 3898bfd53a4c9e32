"""The console's Sent page over a large notification: what its first figures cost.

    .venv/bin/python bench/console_sent.py                     # SQLite, 100,000 recipients
    .venv/bin/python bench/console_sent.py --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/console_sent.py --recipients 20000   # quicker

Seeds one sender's 50 notifications, one of them to ``--recipients`` people (sent, failed, still queued), and times
(median of 7) the storage work behind the page: the list (``GET /api/notifications``: a page of 50 with every
notification's deliveries by state in one grouped query), the big notification's figures (``GET
/api/notifications/{id}``: totals and timing) and one recipients page (500 rows). The baseline, on the same data
in the same run, is the list built the obvious way: the 50 notifications, then each one's totals asked separately.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import BenchDatabases  # noqa: E402
from bot.platform.messaging.ledger import OutreachLedger  # noqa: E402
from bot.platform.storage import open_store  # noqa: E402
from bot.platform.storage.base import Store  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SENDER = "teams:5e4de3b1-0000-4000-8000-000000000001"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Quarterly update"}]}
RUNS = 7


async def seed(store: Store, recipients: int) -> str:
    ledger = OutreachLedger(store.db)
    start = datetime.now(UTC) - timedelta(hours=1)
    big = ""
    for n in range(50):
        count = recipients if n == 25 else 20
        ids = [f"{k:08d}-0000-4000-8000-{n:012d}" for k in range(count)]
        people = [(f"user:{i}", {"userId": i}) for i in ids]
        notification, _ = await ledger.create_notification(
            tenant_id=TENANT,
            sender=SENDER,
            idempotency_key=f"bench-{n}",
            card=CARD,
            ack_required=True,
            send_at=start,
            now=start + timedelta(seconds=n),
            recipients=people,
        )
        if n == 25:
            big = notification.id
    sent_at = (start + timedelta(minutes=5)).isoformat(timespec="microseconds")
    await store.db.execute(
        "UPDATE deliveries SET state = 'sent', sent_at = $2 WHERE notification_id = $1 AND recipient_key < 'user:0007'",
        big,
        sent_at,
    )
    await store.db.execute(
        "UPDATE deliveries SET state = 'failed', reason = 'blocked' "
        "WHERE notification_id = $1 AND recipient_key >= 'user:0007' AND recipient_key < 'user:0008'",
        big,
    )
    return big


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    samples = []
    for _ in range(RUNS):
        began = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def run(url: str, recipients: int) -> None:
    store = await open_store(url, migrations=())  # the platform's own tables: the ledger is among them
    try:
        began = time.perf_counter()
        big = await seed(store, recipients)
        print(f"seeded 50 notifications ({recipients:,} recipients in one) in {time.perf_counter() - began:.1f} s")
        ledger = OutreachLedger(store.db)

        async def listing() -> None:
            page = await ledger.listing(sender=SENDER, before=None, limit=50)
            await ledger.counts([n.id for n in page])

        async def naive_listing() -> None:
            page = await ledger.listing(sender=SENDER, before=None, limit=50)
            for notification in page:
                await ledger.totals(notification.id)

        async def figures() -> None:
            await ledger.totals(big)
            await ledger.timing(big)

        async def recipients_page() -> None:
            await ledger.page(big, state=None, after="", limit=500)

        print(f"list of 50 (one grouped count):   {await timed(listing):8.1f} ms")
        print(f"  baseline, totals one by one:    {await timed(naive_listing):8.1f} ms")
        print(f"figures of the big notification:  {await timed(figures):8.1f} ms")
        print(f"a recipients page (500 rows):     {await timed(recipients_page):8.1f} ms")
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    databases = BenchDatabases(args.postgres, prefix="courier-bench-console-")
    print(f"Console Sent page, {databases.label}, median of {RUNS}")
    try:
        await run(await databases.fresh("console"), args.recipients)
    finally:
        await databases.close()


if __name__ == "__main__":
    asyncio.run(main())
