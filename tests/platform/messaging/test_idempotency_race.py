"""Identical notifications sent at the same moment: every caller gets the one notification, nobody an error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.platform.messaging.ledger import Notification, OutreachLedger
from bot.platform.storage import open_store

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": []}


async def _create(ledger: OutreachLedger) -> tuple[Notification, bool]:
    return await ledger.create_notification(
        tenant_id="t",
        sender="api:race",
        idempotency_key="same-key",
        card=CARD,
        ack_required=False,
        send_at=T0,
        now=T0,
        recipients=[("user:1", {"userId": "1"})],
    )


async def test_fifty_identical_creations_at_once_give_one_notification(database_url: str) -> None:
    stores = [await open_store(database_url) for _ in range(5)]  # five processes' worth of connections
    try:
        ledgers = [OutreachLedger(s.db) for s in stores]
        results = await asyncio.gather(*(_create(ledgers[n % 5]) for n in range(50)))
        assert len({notification.id for notification, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        assert (await ledgers[0].totals(results[0][0].id))["queued"] == 1
    finally:
        for store in stores:
            await store.close()
