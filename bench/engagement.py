"""Engagement benchmark: read receipts ingested through the real ``/api/messages`` path, and the status of a large
notification with its engagement.

    .venv/bin/python bench/engagement.py                       # SQLite
    .venv/bin/python bench/engagement.py --postgres postgresql://postgres@127.0.0.1:5432/test

1. Ingest: 10,000 recipients each got a card (one sent delivery each, in its own 1:1 chat); the connector emulator
   then plays Teams and POSTs each one's read receipt (the event ``application/vnd.microsoft.readReceipt``, with a
   channel token signed by the Bot Framework channel emulator) to the live bot: JWT validation, parsing,
   middleware (de-duplication included), the router, the outreach handler, the ledger write. Baseline, same run
   and path: the same number of event activities that no handler wants (``bench/noop``), so the difference is the
   read receipt's own work.
2. Status: ``GET /api/notifications/{id}`` of a 100,000-recipient notification with engagement (60% read, 20%
   clicked, 10% acknowledged, reactions), 100 calls, p50/p99. Baseline, same run: the same GET with
   ``?engagement=false``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import random
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import FEATURES  # noqa: E402
from bench.databases import BenchDatabases  # noqa: E402
from bot.platform.identity.credentials import credential_from_settings  # noqa: E402
from bot.platform.messaging.counts import read_bucket  # noqa: E402
from bot.platform.server import SERVICES_KEY, create_app  # noqa: E402
from bot.platform.settings import Settings  # noqa: E402
from bot.platform.storage.times import to_db_time  # noqa: E402
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator  # noqa: E402
from bot.sandbox.emulators.connector import ConnectorEmulator  # noqa: E402
from bot.sandbox.emulators.entra import EntraEmulator  # noqa: E402
from bot.sandbox.emulators.tls import TestCA  # noqa: E402

APP_ID = "6f1c1a52-2b7e-4f3e-9a55-0c6f4b8c1d01"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
API_KEY = "bench-api-key-0123456789abcdef"
SENDER = f"api:{hashlib.sha256(API_KEY.encode()).hexdigest()[:12]}"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Benchmark"}]}
CONCURRENCY = 32


async def seed(db: Any, recipients: int, *, sent: datetime, engaged: bool) -> str:
    """One notification to ``recipients`` people, all sent (1:1 chat ``a:chat-N``, message id 1700000000000 + N),
    with engagement when asked: written in bulk, as the ledger would have after the sends and receipts."""
    notification = uuid.uuid4().hex
    stamp = to_db_time(sent)
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO notifications (id, tenant_id, sender, idempotency_key, card, ack_required, send_at, status, "
            "created_at) VALUES ($1, $2, $3, $4, $5, 1, $6, 'queued', $6)",
            notification,
            TENANT,
            SENDER,
            notification,
            '{"type":"AdaptiveCard","version":"1.5","body":[]}',
            stamp,
        )
        rows = [
            (
                notification,
                f"user:{n:07d}",
                f'{{"userId":"{n:07d}"}}',
                TENANT,
                stamp,
                f"a:chat-{n}",
                str(1_700_000_000_000 + n),
            )
            for n in range(recipients)
        ]
        for start in range(0, len(rows), 5_000):
            await tx.executemany(
                "INSERT INTO deliveries (notification_id, recipient_key, recipient, tenant_id, state, attempts, "
                "next_attempt_at, sent_at, updated_at, conversation_id, activity_id) "
                "VALUES ($1, $2, $3, $4, 'sent', 1, $5, $5, $5, $6, $7)",
                rows[start : start + 5_000],
            )
        if engaged:  # as read receipts and clicks write them (so the maintained counts see them the same way)
            rng = random.Random(7)
            reads = []
            for n in range(0, recipients):
                if n % 10 < 6:
                    after = rng.randint(1_000, 3_600_000)
                    at = to_db_time(sent + timedelta(milliseconds=after))
                    reads.append((notification, f"user:{n:07d}", at, after, read_bucket(after)))
            await tx.executemany(
                "UPDATE deliveries SET read_at = $3, read_after_ms = $4, read_bucket = $5 "
                "WHERE notification_id = $1 AND recipient_key = $2",
                reads,
            )
            clicks = [(notification, f"user:{n:07d}", stamp) for n in range(0, recipients) if n % 10 < 2]
            await tx.executemany(
                "UPDATE deliveries SET clicked_at = $3 WHERE notification_id = $1 AND recipient_key = $2", clicks
            )
        if engaged:
            acks = [(notification, f"{n:07d}", f"a:chat-{n}", stamp) for n in range(0, recipients, 10)]
            await tx.executemany(
                "INSERT INTO acknowledgements (notification_id, user_id, conversation_id, acked_at) "
                "VALUES ($1, $2, $3, $4)",
                acks,
            )
            for reaction, added, removed in (("like", recipients // 20, recipients // 200), ("heart", 300, 12)):
                await tx.execute(
                    "INSERT INTO notification_reactions (notification_id, reaction, added, removed) "
                    "VALUES ($1, $2, $3, $4)",
                    notification,
                    reaction,
                    added,
                    removed,
                )
    return notification


def _post_in_child(endpoint: str, headers: dict[str, str], activities: list[dict[str, Any]], pipe: Any) -> None:
    """The channel's side in its own process (so its HTTP client does not share the bot's core): POST every activity,
    CONCURRENCY at a time; sends back (seconds, statuses that were not 200)."""

    async def run() -> tuple[float, list[int]]:
        queue = list(reversed(activities))
        bad: list[int] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

            async def worker() -> None:
                while queue:
                    async with session.post(endpoint, json=queue.pop(), headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            bad.append(response.status)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return time.perf_counter() - started, bad

    pipe.send(asyncio.run(run()))


async def post_all(endpoint: str, connector: ConnectorEmulator, activities: list[dict[str, Any]]) -> float:
    """POST every activity to the bot from another process; events per second (every answer must be 200)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_post_in_child, args=(endpoint, connector.channel_headers(), activities, child))
    process.start()
    seconds, bad = await asyncio.to_thread(parent.recv)
    process.join(10)
    if bad:
        raise SystemExit(f"{len(bad)} activities were not accepted (first status {bad[0]})")
    return len(activities) / seconds


async def ingest(url: str, db: Any, connector: ConnectorEmulator, recipients: int) -> tuple[float, float, int]:
    """Read receipts per second, the no-op baseline per second, and how many deliveries were read."""
    notification = await seed(db, recipients, sent=datetime.now(UTC) - timedelta(minutes=10), engaged=False)
    noop = []
    for n in range(recipients + 500):
        activity = connector.read_receipt_activity(f"a:noop-{n}", "0", user=f"{n:07d}", tenant_id=TENANT)
        activity["name"] = "bench/noop"
        noop.append(activity)
    receipts = [
        connector.read_receipt_activity(f"a:chat-{n}", str(1_700_000_000_000 + n), user=f"{n:07d}", tenant_id=TENANT)
        for n in range(recipients)
    ]
    endpoint = f"{url}/api/messages"
    await post_all(endpoint, connector, noop[:500])  # warm up: signing keys fetched, the token validated once
    baseline = await post_all(endpoint, connector, noop[500:])
    rate = await post_all(endpoint, connector, receipts)
    read = int(
        await db.fetchval(
            "SELECT COUNT(*) FROM deliveries WHERE notification_id = $1 AND read_at IS NOT NULL", notification
        )
    )
    return rate, baseline, read


async def status_body(url: str, notification: str) -> str:
    """The figures the status reports (to check the seeded data is what it says)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/api/notifications/{notification}", headers={"Authorization": f"Bearer {API_KEY}"}) as r,
    ):
        body = (await r.json())["engagement"]
    keys = ("delivered", "read", "clicked", "acknowledged")
    return ", ".join(f"{k} {body[k]:,}" for k in keys) + f", time to read {body['timeToRead']}"


async def status_latency(url: str, notification: str, query: str, calls: int) -> tuple[float, float]:
    """p50 and p99 of ``calls`` sequential GETs of the notification's status, in milliseconds."""
    times = []
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with aiohttp.ClientSession() as session:
        for n in range(calls + 5):
            started = time.perf_counter()
            async with session.get(f"{url}/api/notifications/{notification}{query}", headers=headers) as response:
                assert response.status == 200, response.status
                await response.read()
            if n >= 5:  # the first few warm the caches
                times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()

    ca = TestCA()
    os.environ["REQUESTS_CA_BUNDLE"] = str(ca.ca_bundle_path)
    os.environ["SSL_CERT_FILE"] = str(ca.ca_bundle_path)
    channel = BotFrameworkChannelEmulator(ssl_context=ca.server_ssl_context())
    channel.start()
    entra = EntraEmulator(ssl_context=ca.server_ssl_context())
    entra.start()
    entra.register_app(APP_ID, tenant=TENANT, secret="bench-secret")  # the bot's own token for its connector client
    connector = ConnectorEmulator(require_auth=False, ssl_context=ca.server_ssl_context())
    connector.start()
    databases = BenchDatabases(args.postgres, prefix="courier-bench-engagement-")
    settings = Settings(
        app_id=APP_ID,
        app_password="bench-secret",
        app_tenant_id=TENANT,
        database_url=await databases.fresh("engagement"),
        bot_openid_metadata_url=channel.metadata_url,
        bot_token_issuer=channel.issuer,
        login_authority_host=entra.url,
        bot_service_url=connector.url,
        api_key_hashes=frozenset({hashlib.sha256(API_KEY.encode()).hexdigest()}),
        log_level="WARNING",
    )
    app = await create_app(settings, features=FEATURES, credential=credential_from_settings(settings))
    runner = aiohttp.web.AppRunner(app, access_log=None)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    connector.attach_bot(f"{url}/api/messages", app_id=APP_ID, channel=channel)
    db = app[SERVICES_KEY].store.db

    rate, baseline, read = await ingest(url, db, connector, args.readers)
    notification = await seed(db, args.recipients, sent=datetime.now(UTC) - timedelta(hours=2), engaged=True)
    engagement = await status_body(url, notification)
    with_engagement = await status_latency(url, notification, "", args.calls)
    without = await status_latency(url, notification, "?engagement=false", args.calls)

    print(f"storage               {databases.label}")
    print(
        f"read receipt ingest   {rate:,.0f} events/s  ({args.readers:,} receipts through /api/messages, {read:,} "
        f"deliveries read; target >= 2,000)"
    )
    print(f"  baseline            {baseline:,.0f} events/s  (the same number of unrouted event activities)")
    print(
        f"status with engagement  p50 {with_engagement[0]:.1f} ms, p99 {with_engagement[1]:.1f} ms  "
        f"({args.recipients:,} recipients, {args.calls} calls; target p99 < 100 ms)"
    )
    print(f"  baseline            p50 {without[0]:.1f} ms, p99 {without[1]:.1f} ms  (the same GET, ?engagement=false)")
    print(f"  engagement          {engagement}")
    print(f"peak RSS              {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    await runner.cleanup()
    connector.stop()
    entra.stop()
    channel.stop()
    await databases.close()


if __name__ == "__main__":
    asyncio.run(main())
