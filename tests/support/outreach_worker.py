"""A bare outreach engine in its own process, for tests that kill it with SIGKILL mid-send.

python -m tests.support.outreach_worker <database url> <connector url>
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.platform.messaging.engine import NotificationActivities, OutreachEngine, StoredConversationResolver
from bot.platform.messaging.ratelimit import TenantLimiter
from bot.platform.storage import open_store
from bot.platform.teams.connector import BotConnector


async def main(database_url: str, service_url: str) -> None:
    store = await open_store(database_url)
    client = BotConnector(None)
    engine = OutreachEngine(
        store,
        client,
        StoredConversationResolver(store, client, bot_id="28:worker", service_url=service_url),
        NotificationActivities(store),
        clock=lambda: datetime.now(UTC),
        tenant_limiter=TenantLimiter(10_000),
        concurrency=8,
        batch_size=20,
    )
    await engine.run(asyncio.Event())  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
