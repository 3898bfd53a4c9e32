"""A bare outreach engine in its own process, for tests that kill it with SIGKILL mid-send.

python -m tests.support.outreach_worker <database url> <connector url> <start time, ISO 8601> [engine id]

Its clock starts at the given time (the test's fake clock) and runs on from there at the pace of real time, so the
leases it takes are comparable with the test's own clock. With an engine id it heartbeats as a replica and its
claims carry that id, so a survivor's heartbeat releases them once it is killed (leases untouched).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.platform.messaging.engine import NotificationActivities, OutreachEngine, StoredConversationResolver
from bot.platform.messaging.ratelimit import TenantLimiter
from bot.platform.messaging.replicas import ReplicaCoordinator
from bot.platform.storage import open_store
from bot.platform.teams.connector import BotConnector


def running_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and moves on with real time."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


async def main(database_url: str, service_url: str, start: datetime, engine_id: str | None) -> None:
    store = await open_store(database_url)
    client = BotConnector(None)
    clock = running_clock(start)
    limiter = TenantLimiter(10_000)
    if engine_id is not None:
        coordinator = ReplicaCoordinator(store, limiter, clock=clock, heartbeat=0.5, engine_id=engine_id)
        await coordinator.beat()
        heartbeat = asyncio.get_running_loop().create_task(coordinator.run(asyncio.Event()))  # noqa: F841 - until killed
    engine = OutreachEngine(
        store,
        client,
        StoredConversationResolver(store, client, bot_id="28:worker", service_url=service_url),
        NotificationActivities(store),
        clock=clock,
        tenant_limiter=limiter,
        concurrency=8,
        batch_size=20,
        engine_id=engine_id,
        service_url=service_url,
    )
    await engine.run(asyncio.Event())  # until killed


if __name__ == "__main__":
    engine_id = sys.argv[4] if len(sys.argv) > 4 else None
    asyncio.run(main(sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3]), engine_id))
