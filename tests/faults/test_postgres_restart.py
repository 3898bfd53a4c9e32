"""PostgreSQL "restarted" mid fan-out (every connection dropped, new ones refused for a while, through a proxy: the
machine's shared PostgreSQL itself is never touched): /readyz turns unhealthy, then healthy again, while /healthz
says the process is alive throughout; the engine and the scheduler resume on their own; everything is delivered
exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.platform.storage import open_store
from bot.sandbox.emulators.connector import ConnectorEmulator, Recorded
from tests.support.faults import Courier, PostgresProxy, Tally, arrived, settled

RECIPIENTS = 150
OUTAGE_SECONDS = 5.0
REMINDER_WITHIN = 15.0  # seconds after the database is back (its claim's lease is 120 s: no waiting for it)


@pytest.fixture
def proxy() -> Iterator[PostgresProxy]:
    running = PostgresProxy()
    running.start()
    yield running
    running.stop()


def through(proxy: PostgresProxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


def _reminder_fired(recorded: list[Recorded]) -> bool:
    return any(_is_reminder(r) for r in recorded)


def _is_reminder(record: Recorded) -> bool:
    return record.kind == "send" and "stretch" in json.dumps(record.activity)


async def _readiness_until(courier: Courier, status: int, within: float) -> tuple[float, dict[str, object]]:
    """Seconds until /readyz answers ``status`` (polled: a child process has no event to await), and its body."""
    began = time.monotonic()
    async with asyncio.timeout(within):
        while True:
            code, body = await courier.ready()
            if code == status:
                return time.monotonic() - began, body
            await asyncio.sleep(0.2)


async def test_a_database_restart_mid_fan_out_is_survived_exactly_once(
    tmp_path: Path, postgres_url: str, proxy: PostgresProxy, slow_connector: ConnectorEmulator
) -> None:
    courier = Courier(tmp_path, through(proxy, postgres_url), slow_connector, extra={"COURIER_OUTREACH_RPS": "20"})
    store = await open_store(postgres_url)  # the test's own view, straight to PostgreSQL
    try:
        await courier.start()
        await courier.notify(RECIPIENTS)
        await slow_connector.wait_for_async(arrived(20), within=30)
        await courier.say("remind me in 3 seconds to stretch")  # due in the middle of the outage
        proxy.outage(OUTAGE_SECONDS)
        unready_after, unready = await _readiness_until(courier, 503, within=OUTAGE_SECONDS)
        alive_status, alive = await courier.alive()
        ready_after, _ = await _readiness_until(courier, 200, within=40)
        states = await settled(store, within=90)
        reminded = await slow_connector.wait_for_async(_reminder_fired, within=60)
        running = courier.running.process.poll() is None
    finally:
        courier.stop()
        await store.close()

    tally = Tally.of(slow_connector, RECIPIENTS)
    fired_at = min(r.at for r in reminded if _is_reminder(r))
    assert proxy.back_at is not None
    reminder_after = fired_at - proxy.back_at
    print(
        f"\nPostgreSQL down {OUTAGE_SECONDS:.0f} s mid fan-out ({proxy.dropped} connections dropped): "
        f"/readyz 503 after {unready_after:.1f} s, 200 again {ready_after:.1f} s later; "
        f"{len(tally.arrivals)} of {RECIPIENTS} received, "
        f"duplicates {tally.duplicates}; ledger {dict(states)}; "
        f"the reminder fired {reminder_after:.1f} s after the database was back"
    )
    assert alive_status == 200 and alive["storage"] == {"backend": "postgresql", "reachable": False}
    assert running and unready["storage"] is False
    assert tally.duplicates == 0 and len(tally.arrivals) == RECIPIENTS
    assert len([r for r in reminded if _is_reminder(r)]) == 1  # the scheduler fired it once, after the outage
    assert reminder_after <= REMINDER_WITHIN  # its claim was given back, not left to its lease
    assert states["sent"] + states["maybe_delivered"] == RECIPIENTS
