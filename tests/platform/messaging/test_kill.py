"""kill -9 at any moment: a restarted engine sends nothing twice, and only what was in flight is 'maybe'."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.platform.messaging.engine import NotificationActivities, OutreachEngine, StoredConversationResolver
from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.messaging.ratelimit import TenantLimiter
from bot.platform.storage import open_store
from bot.platform.teams.connector import BotConnector
from bot.sandbox.emulators.connector import ConnectorEmulator
from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[3]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Hello"}]}
RECIPIENTS = 200


@pytest.fixture
def plain_connector() -> Iterator[ConnectorEmulator]:
    emulator = ConnectorEmulator(require_auth=False, enforce_limits=False)
    emulator.write_delay = 0.01
    emulator.start()
    yield emulator
    emulator.stop()


async def test_a_killed_engine_restarts_without_sending_anything_twice(
    tmp_path: Path, plain_connector: ConnectorEmulator, clock: FakeClock
) -> None:
    url = f"sqlite:///{tmp_path / 'courier.db'}"
    store = await open_store(url)
    notification, _ = await OutreachLedger(store.db).create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="kill",
        card=CARD,
        ack_required=False,
        send_at=clock(),
        now=clock(),
        recipients=[(f"user:{n}", {"userId": f"{n:08d}-0000-4000-8000-000000000000"}) for n in range(RECIPIENTS)],
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.support.outreach_worker", url, plain_connector.url, clock().isoformat()],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        plain_connector.wait_for(lambda recorded: len(recorded) >= RECIPIENTS // 3, timeout=30)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(10)
    assert worker.returncode == -signal.SIGKILL

    # The restarted engine recovers once the dead worker's leases (two minutes) have run out.
    clock.advance(minutes=10)
    client = BotConnector(None)
    engine = OutreachEngine(
        store,
        client,
        StoredConversationResolver(store, client, bot_id="28:b", service_url=plain_connector.url),
        NotificationActivities(store),
        clock=clock,
        tenant_limiter=TenantLimiter(10_000),
    )
    try:
        await engine.drain()
    finally:
        await client.close()

    arrivals = Counter(r.conversation_id for r in plain_connector.recorded)
    assert max(arrivals.values()) == 1  # nothing twice
    totals = await OutreachLedger(store.db).totals(notification.id)
    assert totals["sent"] + totals.get("maybe_delivered", 0) == RECIPIENTS
    assert totals.get("maybe_delivered", 0) <= 8  # at most what was in flight (the worker's concurrency)
    await store.close()
