"""SIGTERM twice or Ctrl-C twice in the middle of a fan-out: the process exits promptly and cleanly, holds nothing
afterwards, and the next start finishes the notification exactly once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bot.platform.storage import open_store
from bot.sandbox.emulators.connector import ConnectorEmulator
from tests.support.faults import Courier, Tally, arrived, settled

RECIPIENTS = 120
HELD = "SELECT COUNT(*) FROM deliveries WHERE state IN ('claimed', 'sending')"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
async def test_a_second_signal_mid_fan_out_neither_hangs_nor_leaves_claims(
    tmp_path: Path, postgres_url: str, slow_connector: ConnectorEmulator, signum: signal.Signals
) -> None:
    slow_connector.write_delay = 0.2  # sends in flight when the signals land
    courier = Courier(tmp_path, postgres_url, slow_connector, extra={"COURIER_OUTREACH_RPS": "50"})
    store = await open_store(postgres_url)
    try:
        await courier.start()
        await courier.notify(RECIPIENTS)
        await slow_connector.wait_for_async(arrived(10), within=30)
        process = courier.running.process
        signalled = time.monotonic()
        process.send_signal(signum)
        process.send_signal(signum)
        code = process.wait(20)
        took = time.monotonic() - signalled
        held = await store.db.fetchval(HELD)
        log = courier.running.log(400)

        await courier.start()
        states = await settled(store, within=60)
    finally:
        courier.stop()
        await store.close()
    tally = Tally.of(slow_connector, RECIPIENTS)
    print(f"\n{signum.name} twice mid fan-out: exit {code} after {took:.1f} s, held afterwards {held}; {dict(states)}")
    assert code == 0 and "storage closed" in log and "Traceback" not in log
    assert held == 0
    assert tally.duplicates == 0 and states["sent"] == RECIPIENTS
