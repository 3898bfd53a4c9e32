"""kill -9 at random moments, ten times, restarting at once with the leases untouched: every recipient gets the
notification once, nothing is lost, and what a dead process held waits only seconds once Courier is back."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.platform.storage import open_store
from bot.platform.storage.base import Store
from bot.sandbox.emulators.connector import ConnectorEmulator
from tests.support.faults import Courier, Tally, settled, user

ROUNDS = 10
RECIPIENTS = 300
SEED = 20261207
HELD = "SELECT DISTINCT claimed_by FROM deliveries WHERE state IN ('claimed', 'sending') AND claimed_by IS NOT NULL"
MAYBE = "SELECT recipient_key FROM deliveries WHERE state = 'maybe_delivered'"


@dataclass
class HeldWatch:
    """How long each killed process's deliveries stay held while a new Courier is up (polled every 100 ms: the
    ledger has no event to await)."""

    store: Store
    up: bool = False
    dead: set[str] = field(default_factory=set)
    idle: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    async def held(self) -> set[str]:
        return {str(row["claimed_by"]) for row in await self.store.db.fetch(HELD)}

    async def killed(self) -> None:
        self.up = False
        self.dead |= await self.held()

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            holding = await self.held() & self.dead
            now = time.monotonic()
            if self.up:
                for engine in holding:
                    self.idle[engine] += now - last
            last = now
            await asyncio.sleep(0.1)

    async def released(self) -> None:
        while True:
            if not await self.held() & self.dead:
                return
            await asyncio.sleep(0.1)


async def test_ten_kills_at_random_moments_lose_and_repeat_nothing(
    tmp_path: Path, postgres_url: str, slow_connector: ConnectorEmulator
) -> None:
    rng = random.Random(SEED)
    store = await open_store(postgres_url)
    courier = Courier(tmp_path, postgres_url, slow_connector, extra={"COURIER_OUTREACH_RPS": "50"})
    watch = HeldWatch(store)
    polling = asyncio.create_task(watch.run())
    try:
        await courier.start()
        await courier.notify(RECIPIENTS)
        for _ in range(ROUNDS):
            watch.up = True
            await asyncio.sleep(rng.uniform(0.3, 2.5))  # a random moment of the fan-out, not an event
            courier.kill()
            await watch.killed()
            await courier.start()
        watch.up = True
        await asyncio.wait_for(watch.released(), 30)
        states = await settled(store, within=90)
        maybe = {str(r["recipient_key"]) for r in await store.db.fetch(MAYBE)}
    finally:
        polling.cancel()
        courier.stop()
        await store.close()

    tally = Tally.of(slow_connector, RECIPIENTS)
    reached = {body["members"][0]["id"] for cid, body in slow_connector.created.items() if tally.arrivals[cid]}
    # Lost: never arrived and not recorded as "maybe delivered" either (a kill between the committed "sending" mark
    # and the request leaving is recorded so: the connector has no idempotency key, so it is never sent again).
    missing = {f"user:{user(n)}" for n in range(RECIPIENTS) if user(n) not in reached}
    lost = len(missing - maybe)
    max_idle = max(watch.idle.values(), default=0.0)
    print(
        f"\nkill -9: {ROUNDS} rounds, {RECIPIENTS} recipients, {len(watch.dead)} killed processes held deliveries; "
        f"duplicates {tally.duplicates}, lost {lost}, maybe delivered {len(maybe)} (arrived: {len(maybe - missing)}), "
        f"max idle after restart {max_idle:.1f} s; ledger {dict(states)}"
    )
    assert tally.duplicates == 0
    assert lost == 0 and states["sent"] + states["maybe_delivered"] == RECIPIENTS
    assert max_idle <= 10.0
