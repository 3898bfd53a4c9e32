"""A connector answering 502 and 504 to everything for a while, then some sends hanging past Courier's timeout:
everything is retried with backoff within the attempt cap, and what the connector received, it received once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.platform.storage import open_store
from bot.sandbox.emulators.connector import ConnectorEmulator
from tests.support.faults import Courier, Tally, settled

RECIPIENTS = 100
STORM_SECONDS = 4.0
MAX_ATTEMPTS = 8  # the engine's cap


async def test_a_502_storm_and_timeouts_deliver_everything_once(
    tmp_path: Path, postgres_url: str, slow_connector: ConnectorEmulator
) -> None:
    slow_connector.random_5xx_statuses = (502, 504)
    slow_connector.stalls_after_receipt, slow_connector.stall_seconds = 5, 3.0  # past the 1 s timeout below
    extra = {"COURIER_OUTREACH_RPS": "50", "COURIER_CONNECTOR_TIMEOUT_SECONDS": "1"}
    courier = Courier(tmp_path, postgres_url, slow_connector, extra=extra)
    store = await open_store(postgres_url)
    try:
        await courier.start()
        slow_connector.random_5xx = 1.0
        await courier.notify(RECIPIENTS)
        await asyncio.sleep(STORM_SECONDS)  # the storm's length, then the connector recovers
        slow_connector.random_5xx = 0.0
        states = await settled(store, within=90)
        attempts = int(await store.db.fetchval("SELECT MAX(attempts) FROM deliveries"))
    finally:
        courier.stop()
        await store.close()

    tally = Tally.of(slow_connector, RECIPIENTS)
    print(
        f"\n502/504 storm of {STORM_SECONDS:.0f} s ({slow_connector.storm_answers} answered) and 5 sends hanging past "
        f"the timeout: {len(tally.arrivals)} of {RECIPIENTS} received, duplicates {tally.duplicates}, "
        f"most attempts of one delivery {attempts} (cap {MAX_ATTEMPTS}); ledger {dict(states)}"
    )
    assert len(tally.arrivals) == RECIPIENTS and tally.duplicates == 0
    assert states["sent"] == RECIPIENTS - 5 and states["maybe:connection_lost"] == 5
    assert 1 < attempts < MAX_ATTEMPTS
