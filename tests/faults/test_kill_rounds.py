"""kill -9 at random moments, ten times, restarting at once with the leases untouched: every recipient gets the
notification exactly once (the sends a kill interrupted are reconciled through Graph, which shows what the connector
really received), and what a dead process held waits only seconds once Courier is back."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.platform.messaging.reconcile import PERMISSION
from bot.platform.storage import open_store
from bot.platform.storage.base import Store
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_chats import install_chats
from bot.sandbox.emulators.tls import TestCA
from tests.support.faults import TENANT, Courier, Tally, settled, user

ROUNDS = 10
RECIPIENTS = 300
SEED = 20261207
HELD = "SELECT DISTINCT claimed_by FROM deliveries WHERE state IN ('claimed', 'sending') AND claimed_by IS NOT NULL"
MAYBE = "SELECT recipient_key FROM deliveries WHERE state = 'maybe_delivered'"
UNRECONCILED = "SELECT COUNT(*) FROM deliveries WHERE state <> 'sent'"
APP_ID = "00000000-0000-0000-0000-0000000fa017"
SECRET = "fault-secret"


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


def signed_in(entra: EntraEmulator, graph: GraphEmulator, test_ca: TestCA) -> dict[str, str]:
    """Courier with its app credential, reading chats through Graph (the chat permission granted)."""
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={"https://graph.microsoft.com": (PERMISSION,)})
    ca = str(test_ca.ca_bundle_path)
    return {
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": SECRET,
        "MicrosoftAppTenantId": TENANT,
        "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "0",
        "COURIER_DANGEROUSLY_SKIP_INBOUND_AUTH": "1",
        "COURIER_LOGIN_AUTHORITY_HOST": entra.url,
        "COURIER_GRAPH_BASE_URL": graph.url,
        "COURIER_ENCRYPTION_KEY": "fault-encryption-key-" + "x" * 24,
        "COURIER_CA_BUNDLE": ca,
        "REQUESTS_CA_BUNDLE": ca,
        "SSL_CERT_FILE": ca,
        "COURIER_OUTREACH_RPS": "50",
    }


def reached_users(connector: ConnectorEmulator) -> set[str]:
    """The users whose 1:1 chat has received something."""
    arrivals = {r.conversation_id for r in connector.wait_for(lambda _: True)}
    return {body["members"][0]["id"] for cid, body in connector.created.items() if cid in arrivals}


async def reconciled(store: Store, within: float) -> None:
    """Until every delivery is sent (the interrupted ones are reconciled 30 s after the kill), polled every 0.5 s."""
    async with asyncio.timeout(within):
        while True:
            if not await store.db.fetchval(UNRECONCILED):
                return
            await asyncio.sleep(0.5)


async def test_ten_kills_at_random_moments_lose_and_repeat_nothing(
    tmp_path: Path, postgres_url: str, slow_connector: ConnectorEmulator, entra: EntraEmulator, test_ca: TestCA
) -> None:
    rng = random.Random(SEED)
    store = await open_store(postgres_url)
    graph = GraphEmulator(entra, test_ca.server_ssl_context())
    install_chats(graph, slow_connector)  # Graph shows what the connector really received
    graph.start()
    courier = Courier(tmp_path, postgres_url, slow_connector, extra=signed_in(entra, graph, test_ca))
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
        await settled(store, within=90)
        interrupted = {str(r["recipient_key"]) for r in await store.db.fetch(MAYBE)}  # before reconciliation
        arrived_before = {f"user:{u}" for u in reached_users(slow_connector)}
        await reconciled(store, within=120)
        states = await settled(store, within=30)
        maybe = {str(r["recipient_key"]) for r in await store.db.fetch(MAYBE)}
    finally:
        polling.cancel()
        courier.stop()
        graph.stop()
        await store.close()

    tally = Tally.of(slow_connector, RECIPIENTS)
    reached = reached_users(slow_connector)
    # Lost: never arrived, whatever the ledger says (a kill between the committed "sending" mark and the request
    # leaving is reconciled: Graph shows whether the copy arrived; absent, it is sent again).
    missing = {f"user:{user(n)}" for n in range(RECIPIENTS) if user(n) not in reached}
    lost = len(missing)
    max_idle = max(watch.idle.values(), default=0.0)
    print(
        f"\nkill -9: {ROUNDS} rounds, {RECIPIENTS} recipients, {len(watch.dead)} killed processes held deliveries; "
        f"duplicates {tally.duplicates}, lost {lost}; interrupted sends {len(interrupted)} (reconciled through "
        f"Graph: {len(interrupted & arrived_before)} had arrived, marked sent; {len(interrupted - arrived_before)} "
        f"had not, sent again), maybe delivered left {len(maybe)}, "
        f"max idle after restart {max_idle:.1f} s; ledger {dict(states)}"
    )
    assert tally.duplicates == 0
    assert lost == 0 and states["sent"] == RECIPIENTS and not maybe
    assert max_idle <= 10.0
