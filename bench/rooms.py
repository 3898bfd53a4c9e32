"""Room devices watched: 500 rooms, 50 of their devices going offline at random moments over 20 minutes.

    .venv/bin/python bench/rooms.py
    .venv/bin/python bench/rooms.py --postgres postgresql://postgres@127.0.0.1:5432/test

Courier's real watcher (the ``rooms.check`` job's handler, its store and the platform's Graph client) runs against
the Graph emulator's places and presence over HTTPS, with Graph's limit of 1,500 presence requests per 30 s per app
enforced (429 + Retry-After). Time is an injected clock: each check runs at the due time the previous one answered,
so 20 minutes pass in seconds. Printed: the alert delay after a device goes offline (target: at most the threshold
+ 60 s), presence requests per check (target: ceil(500/650) = 1), Graph 429s (target: 0).

Baseline, same run, same emulators: the naive watcher, one ``GET /users/{id}/presence`` per room every 60 s; its
requests per check and 429s are measured over real requests (3 checks), its alert delay on the same simulated
outages.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import BenchDatabases  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "00000000-0000-0000-0000-00000000b0b0"
THRESHOLD = timedelta(minutes=5)
SPAN = timedelta(minutes=20)


def outages(rooms: int, count: int, start: datetime) -> dict[str, datetime]:
    rng = random.Random(17)
    chosen = rng.sample(range(rooms), count)
    return {f"room-{n}": start + timedelta(seconds=rng.uniform(0, 600)) for n in chosen}


async def courier_run(url: str, graph_url: str, ssl: object, presence: object, went: dict[str, datetime]) -> dict:
    from bot.features.rooms import Rooms
    from bot.features.rooms.service import CHECK
    from bot.platform.cards import CardRenderer
    from bot.platform.graph import GraphClient
    from bot.platform.identity.credentials import MsalAppCredential
    from bot.platform.jobs import Job
    from bot.platform.services import IdentityServices, Services
    from bot.platform.settings import Settings
    from bot.platform.storage import open_store
    from tests.support.clock import FakeClock

    start = min(went.values()) - timedelta(minutes=1)
    clock = FakeClock(start)
    settings = Settings(app_id=APP, app_password="s", app_tenant_id=TENANT, login_authority_host=os.environ["ENTRA"])
    client = GraphClient(graph_url, ssl_context=ssl)
    identity = IdentityServices(MsalAppCredential(settings), None, None, client)
    assert Rooms.migrations is not None
    store = await open_store(url, migrations=(Rooms.migrations,))
    services = Services(settings=settings, store=store, cards=CardRenderer(), clock=clock, identity=identity)
    rooms = Rooms(services)
    watcher = rooms.deps.watcher
    await watcher.watch(TENANT, "19:bench@thread.tacv2", "admin")
    checks = 0
    before = presence.batch_requests  # type: ignore[attr-defined]
    seconds: list[float] = []
    due = clock()
    while clock() < start + SPAN:
        clock.set(due)
        for room, at in went.items():
            if at <= clock():
                presence.set(room, "Offline")  # type: ignore[attr-defined]
        began = time.perf_counter()
        due = await watcher.run_check(Job(CHECK, TENANT, TENANT, clock(), {})) or clock() + watcher.interval
        seconds.append(time.perf_counter() - began)
        checks += 1
    alerts = await rooms.deps.store.all_alerts(TENANT)
    delays = [(a.opened_at - went[a.room_id]).total_seconds() for a in alerts]
    await client.close()
    await store.close()
    return {
        "alerts": len(alerts),
        "delays": delays,
        "per_check": (presence.batch_requests - before) / checks,  # type: ignore[attr-defined]
        "check_ms": statistics.median(seconds) * 1000,
    }


async def baseline_run(graph_url: str, ssl: object, rooms: int, went: dict[str, datetime]) -> dict:
    """The naive watcher: one request per room per check. Requests and 429s are real; its delay is simulated."""
    from bot.platform.graph import GraphClient
    from bot.platform.graph.errors import Throttled
    from bot.platform.identity.credentials import MsalAppCredential
    from bot.platform.settings import Settings

    settings = Settings(app_id=APP, app_password="s", app_tenant_id=TENANT, login_authority_host=os.environ["ENTRA"])
    client = GraphClient(graph_url, ssl_context=ssl, per_tenant_rps=1000, max_attempts=1, per_tenant_concurrency=16)
    graph = client.app(MsalAppCredential(settings), TENANT)
    refused = sent = 0

    async def one(n: int) -> None:
        nonlocal refused, sent
        sent += 1
        try:
            await graph.get(f"/users/room-{n}/presence", permission="Presence.Read.All")
        except Throttled:
            refused += 1

    began = time.perf_counter()
    for _ in range(3):
        await asyncio.gather(*(one(n) for n in range(rooms)))
    seconds = (time.perf_counter() - began) / 3
    await client.close()
    interval = 60.0  # what a per-room poller can afford: 500 requests a minute
    start = min(went.values()) - timedelta(minutes=1)
    delays = []
    for at in went.values():
        seen = start + timedelta(seconds=math.ceil((at - start).total_seconds() / interval) * interval)
        alert = seen + timedelta(seconds=math.ceil(THRESHOLD.total_seconds() / interval) * interval)
        delays.append((alert - at).total_seconds())
    return {"per_check": sent / 3, "throttled": refused, "delays": delays, "check_ms": seconds * 1000}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--offline", type=int, default=50)
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()

    from bot.sandbox.emulators.entra import EntraEmulator
    from bot.sandbox.emulators.graph import GraphEmulator
    from bot.sandbox.emulators.graph_places import install_places
    from bot.sandbox.emulators.graph_presence import install_presence
    from bot.sandbox.emulators.tls import TestCA

    ca = TestCA()
    os.environ["REQUESTS_CA_BUNDLE"] = str(ca.ca_bundle_path)
    entra = EntraEmulator(ssl_context=ca.server_ssl_context())
    os.environ["ENTRA"] = entra.start()
    graph = GraphEmulator(entra, ca.server_ssl_context())
    presence = install_presence(graph)
    places = install_places(graph)
    graph.start()
    entra.register_app(
        APP, tenant=TENANT, secret="s", roles={"https://graph.microsoft.com": ("Place.Read.All", "Presence.Read.All")}
    )
    for n in range(args.rooms):
        places.add_room(f"room-{n}", f"room{n}@contoso.com", f"Room {n:03d}", capacity=8)
        presence.set(f"room-{n}", "Available")
    went = outages(args.rooms, args.offline, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    databases = BenchDatabases(args.postgres, prefix="courier-bench-rooms-")
    url = await databases.fresh("rooms")
    courier = await courier_run(url, graph.url, ca.client_ssl_context(), presence, went)
    courier_429s = presence.throttled
    for n in range(args.rooms):
        presence.set(f"room-{n}", "Available")
    baseline = await baseline_run(graph.url, ca.client_ssl_context(), args.rooms, went)
    graph.stop()
    entra.stop()

    limit = THRESHOLD.total_seconds() + 60
    print(f"{args.rooms} rooms watched, {args.offline} devices offline, threshold {THRESHOLD}, {url.split(':')[0]}")
    print(f"{'':34} {'Courier':>22} {'Baseline (per room, 60 s)':>28}")
    print(f"{'alerts opened':34} {courier['alerts']:>22} {len(baseline['delays']):>28}")
    for label, key in (("alert delay p50 (s)", 0.5), ("alert delay max (s)", 1.0)):
        ours = sorted(courier["delays"])[min(len(courier["delays"]) - 1, int(key * (len(courier["delays"]) - 1)))]
        theirs = sorted(baseline["delays"])[min(len(baseline["delays"]) - 1, int(key * (len(baseline["delays"]) - 1)))]
        print(f"{label:34} {ours:>22.0f} {theirs:>28.0f}")
    print(f"{'target: max delay <= threshold+60':34} {max(courier['delays']) <= limit!s:>22}")
    print(f"{'presence requests per check':34} {courier['per_check']:>22.1f} {baseline['per_check']:>28.1f}")
    print(f"{'Graph 429s':34} {courier_429s:>22} {baseline['throttled']:>28}")
    print(f"{'wall time per check (ms)':34} {courier['check_ms']:>22.0f} {baseline['check_ms']:>28.0f}")
    await databases.close()


if __name__ == "__main__":
    asyncio.run(main())
