"""A fair share under load: a 100,000-recipient broadcast saturating tenant A must not starve anything else.

    .venv/bin/python bench/fairness.py                      # 100,000 recipients, 20 s windows
    .venv/bin/python bench/fairness.py --recipients 20000 --window 12   # quicker

Courier runs as its own process (``python app.py``) against the emulators (bench/rig.py): the connector enforces
Teams' per-conversation limits with 429 + Retry-After, and its app-wide ceiling is lifted to 90 RPS so the
per-tenant pace (Courier's default 30 RPS per tenant) is what saturates. The same probes run in two windows of the
same run: a quiet one (the baseline) and one while tenant A's broadcast (10 API requests of 10,000 recipients each,
the API's cap per request, every recipient a first-time one, so each costs a conversation creation and a send)
saturates tenant A:

- reminders falling due across the window (lateness: due time to the card reaching the connector);
- a small notification to 20 people of tenant A (the priority lane) and one to 20 people of tenant B (time from
  the API call to the last of the 20 arriving), and a broadcast of 150 (the bulk lane) to tenant B (time to its
  first and last arrival);
- chat turns and card actions (``help`` and an Action.Execute) from people of tenant A (latency of the answer).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import MIGRATIONS  # noqa: E402
from bench.databases import BenchDatabases  # noqa: E402
from bench.rig import TENANT, Microsoft, percentile, start_courier, stop, wait_ready  # noqa: E402
from bench.turns import build_activity  # noqa: E402
from bot.features.reminders.store import ACTIVE, Reminder, ReminderStore  # noqa: E402
from bot.platform.storage import ConversationKind, ConversationRecord, open_store  # noqa: E402

TENANT_B = "b2f988bf-86f1-41af-91ab-2d7cd011db47"
API_KEY = "bench-fairness-" + uuid.uuid4().hex
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Benchmark notice"}]}
SMALL = 20
B_BROADCAST = 150  # more than a small notification: tenant B's own bulk lane
WINDOWS = ("quiet", "broadcast")


def guid(group: int, n: int) -> str:
    return f"{n:08d}-{group:04d}-4000-8000-000000000000"


def small_users(window: str, tenant: str) -> list[str]:
    group = 10 * WINDOWS.index(window) + (1 if tenant == TENANT else 2)
    return [guid(group, n) for n in range(SMALL)]


def b_broadcast_users(window: str) -> list[str]:
    return [guid(40 + WINDOWS.index(window), n) for n in range(B_BROADCAST)]


def reminder_user(window: str, n: int) -> str:
    return guid(30 + WINDOWS.index(window), n)


async def seed(url: str, service_url: str, plan: dict[str, tuple[float, float]], reminders: int) -> dict[str, float]:
    """Stored conversations for the probes' people, and the reminders due across each window.

    Returns the due time (epoch seconds) of each reminder by its conversation id."""
    store = await open_store(url, migrations=MIGRATIONS)
    due: dict[str, float] = {}
    try:
        async with store.transaction() as tx:
            for window in WINDOWS:
                for tenant, tag in ((TENANT, "A"), (TENANT_B, "B")):
                    for user in small_users(window, tenant):
                        record = ConversationRecord(
                            f"a:small{tag}-{user}", tenant, ConversationKind.PERSONAL, service_url, {}, user
                        )
                        await tx.upsert_conversation(record)
                for user in b_broadcast_users(window):
                    record = ConversationRecord(
                        f"a:bulkB-{user}", TENANT_B, ConversationKind.PERSONAL, service_url, {}, user
                    )
                    await tx.upsert_conversation(record)
                for n in range(reminders):
                    user = reminder_user(window, n)
                    record = ConversationRecord(
                        f"a:rem-{user}", TENANT, ConversationKind.PERSONAL, service_url, {}, user_aad_object_id=user
                    )
                    await tx.upsert_conversation(record)
        batch = []
        for window in WINDOWS:
            start, end = plan[window]
            for n in range(reminders):
                at = start + 1 + (end - start - 2) * n / max(reminders - 1, 1)
                user = reminder_user(window, n)
                due[f"a:rem-{user}"] = at
                when = datetime.fromtimestamp(at, UTC)
                batch.append(
                    Reminder(
                        id=uuid.uuid4().hex,
                        tenant_id=TENANT,
                        creator_id=user,
                        creator_name="Bench",
                        target_kind="user",
                        target_user_id=user,
                        target_name=None,
                        conversation_id=None,
                        origin_conversation_id=None,
                        text=f"Reminder {window} {n}",
                        source_link=None,
                        zone="Europe/Paris",
                        rule=None,
                        anchor=None,
                        due_at=when,
                        occurrence_at=when,
                        status=ACTIVE,
                    )
                )
        await ReminderStore(store).create_many(batch, datetime.now(UTC))
    finally:
        await store.close()
    return due


async def notify(session: aiohttp.ClientSession, url: str, tenant: str, users: list[str]) -> float:
    """POST /api/notifications; returns when it was accepted (epoch seconds)."""
    body = {
        "idempotencyKey": uuid.uuid4().hex,
        "tenantId": tenant,
        "card": CARD,
        "recipients": [{"userId": u} for u in users],
    }
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with session.post(f"{url}/api/notifications", json=body, headers=headers) as response:
        text = await response.text()
        if response.status >= 300:
            raise SystemExit(f"POST /api/notifications answered {response.status}: {text[:300]}")
    return time.time()


async def chat(
    session: aiohttp.ClientSession, url: str, service_url: str, token: str, until: float
) -> dict[str, list[float]]:
    """A few people chatting and clicking card buttons, one turn at a time each, until ``until``."""
    latencies: dict[str, list[float]] = {"message": [], "invoke": []}
    counter = itertools.count()

    async def person() -> None:
        while time.time() < until:
            i = next(counter)
            kind = ("help", "invoke:help")[i % 2]
            activity = build_activity(kind, 10_000 + i % 500, service_url)
            started = time.perf_counter()
            headers = {"Authorization": f"Bearer {token}"}
            async with session.post(f"{url}/api/messages", json=activity, headers=headers) as response:
                await response.read()
            latencies["invoke" if kind.startswith("invoke") else "message"].append(time.perf_counter() - started)
            await asyncio.sleep(0.2)

    await asyncio.gather(*(person() for _ in range(4)))
    return latencies


async def window(name: str, plan: tuple[float, float], url: str, microsoft: Microsoft, token: str) -> dict[str, Any]:
    start, end = plan
    await asyncio.sleep(max(0.0, start - time.time()))
    sent_at_start = microsoft.call("count")
    async with aiohttp.ClientSession() as session:
        chatting = asyncio.create_task(chat(session, url, microsoft.connector, token, end))
        await asyncio.sleep(1.0)
        posted = {
            "A": await notify(session, url, TENANT, small_users(name, TENANT)),
            "B": await notify(session, url, TENANT_B, small_users(name, TENANT_B)),
            "bulkB": await notify(session, url, TENANT_B, b_broadcast_users(name)),
        }
        latencies = await chatting
    sent = microsoft.call("count") - sent_at_start
    await asyncio.sleep(max(0.0, end + 3 - time.time()))  # let the last reminders land
    return {"posted": posted, "chat": latencies, "rate": sent / (end - start)}


def outcome(
    name: str, result: dict[str, Any], arrivals: list[tuple[str, float, str]], due: dict[str, float]
) -> dict[str, Any]:
    firsts: dict[str, float] = {}
    for conversation, at, _ in arrivals:
        firsts.setdefault(conversation, at)
    lateness = [firsts[c] - at for c, at in due.items() if c in firsts and _window_of(c) == name]
    missing = sum(1 for c in due if _window_of(c) == name and c not in firsts)
    small: dict[str, str] = {}
    for tag, tenant in (("A", TENANT), ("B", TENANT_B)):
        times = [firsts.get(f"a:small{tag}-{u}") for u in small_users(name, tenant)]
        got = [t for t in times if t is not None]
        if len(got) < len(times):
            small[tag] = f"{len(got)}/{len(times)} arrived"
        else:
            small[tag] = f"{(max(got) - result['posted'][tag]) * 1000:,.0f} ms"
    times = [firsts.get(f"a:bulkB-{u}") for u in b_broadcast_users(name)]
    got = [t for t in times if t is not None]
    posted = result["posted"]["bulkB"]
    small["bulkB"] = (
        f"{(min(got) - posted) * 1000:,.0f} / {(max(got) - posted) * 1000:,.0f} ms"
        if len(got) == len(times)
        else f"{len(got)}/{len(times)} arrived"
    )
    return {"lateness": lateness, "missing": missing, "small": small, "chat": result["chat"]}


def _window_of(conversation: str) -> str:
    return WINDOWS[int(conversation.split("-")[2]) - 30]


def ms(values: list[float], share: float) -> str:
    return f"{percentile(values, share) * 1000:,.0f} ms" if values else "n/a"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=20.0, help="seconds of each measurement window")
    parser.add_argument("--reminders", type=int, default=10, help="reminders due in each window")
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()

    microsoft = Microsoft(ceiling=90.0, enforce_limits=True)
    databases = BenchDatabases(args.postgres, prefix="courier-bench-fairness-")
    url_db = await databases.fresh()
    logs = Path(tempfile.mkdtemp(prefix="courier-bench-fairness-logs-"))
    begin = time.time() + 15  # seeding and start-up happen before the first window
    quiet = (begin, begin + args.window)
    loud_start = quiet[1] + 10 + args.recipients / 10_000 * 1.5  # the broadcast's API calls go first
    plan = {"quiet": quiet, "broadcast": (loud_start, loud_start + args.window)}
    due = await seed(url_db, microsoft.connector, plan, args.reminders)
    courier, url = start_courier(microsoft, url_db, logs / "courier.log", COURIER_API_KEYS=API_KEY)
    try:
        await wait_ready(url, courier)
        if time.time() > begin - 1:
            raise SystemExit("start-up took longer than planned; raise the margin")
        token = microsoft.token()
        results = {"quiet": await window("quiet", plan["quiet"], url, microsoft, token)}
        broadcast_started = time.time()
        async with aiohttp.ClientSession() as session:
            for chunk in range(0, args.recipients, 10_000):
                users = [guid(9000, n) for n in range(chunk, min(chunk + 10_000, args.recipients))]
                await notify(session, url, TENANT, users)
        queued = time.time() - broadcast_started
        if time.time() > plan["broadcast"][0]:
            print("warning: the broadcast's API calls ran into the measurement window")
        results["broadcast"] = await window("broadcast", plan["broadcast"], url, microsoft, token)
        arrivals = microsoft.call("arrivals", ("a:rem-", "a:small", "a:bulkB"))
        throttled = microsoft.call("throttled")
    finally:
        stop(courier)
        microsoft.stop()
        await databases.close()

    quiet_o = outcome("quiet", results["quiet"], arrivals, due)
    loud_o = outcome("broadcast", results["broadcast"], arrivals, due)
    print(
        f"storage                   {databases.label}; broadcast of {args.recipients:,} to tenant A "
        f"(queued through the API in {queued:.1f} s)"
    )
    print(f"{'':26}{'quiet (baseline)':>22}{'during the broadcast':>24}   target")
    rows = [
        ("reminder lateness p50", ms(quiet_o["lateness"], 0.5), ms(loud_o["lateness"], 0.5), ""),
        ("reminder lateness p99", ms(quiet_o["lateness"], 0.99), ms(loud_o["lateness"], 0.99), "< 1,000 ms"),
        ("reminders missing", str(quiet_o["missing"]), str(loud_o["missing"]), "0"),
        ("small notice, tenant A", quiet_o["small"]["A"], loud_o["small"]["A"], "ahead of the bulk"),
        ("notice, tenant B", quiet_o["small"]["B"], loud_o["small"]["B"], "not delayed"),
        ("broadcast B, first/last", quiet_o["small"]["bulkB"], loud_o["small"]["bulkB"], "not delayed"),
        ("chat reply p50", ms(quiet_o["chat"]["message"], 0.5), ms(loud_o["chat"]["message"], 0.5), ""),
        ("chat reply p99", ms(quiet_o["chat"]["message"], 0.99), ms(loud_o["chat"]["message"], 0.99), "unchanged"),
        ("card action p50", ms(quiet_o["chat"]["invoke"], 0.5), ms(loud_o["chat"]["invoke"], 0.5), ""),
        ("card action p99", ms(quiet_o["chat"]["invoke"], 0.99), ms(loud_o["chat"]["invoke"], 0.99), "< 5,000 ms"),
    ]
    for label, a, b, target in rows:
        print(f"{label:26}{a:>22}{b:>24}   {target}")
    print(
        f"activities/s received     {results['quiet']['rate']:.1f} quiet, {results['broadcast']['rate']:.1f} during "
        f"the broadcast (sends; conversation creations not counted); 429s from the emulator: {throttled}"
    )
    print(f"logs                      {logs}")


if __name__ == "__main__":
    asyncio.run(main())
