"""Edits and recalls through the ledger and the engine, against the connector emulator: each copy changed exactly
once, at the sends' limits and retry rules, a later revision superseding an earlier one, resumed after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.platform.messaging.engine import NotificationActivities, OutreachEngine, StoredConversationResolver
from bot.platform.messaging.ledger import AlreadyRecalled, OutreachLedger
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter
from bot.platform.messaging.replicas import ReplicaCoordinator
from bot.platform.storage import ConversationKind, ConversationRecord, SqlStore, open_store
from bot.platform.teams.connector import BotConnector, ConnectorFailure
from bot.sandbox.emulators.connector import ConnectorEmulator, Recorded
from tests.support.cards import card_texts
from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[3]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LEASE = timedelta(minutes=2)


def card(text: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}]}


@pytest.fixture
def teams() -> Iterator[ConnectorEmulator]:
    emulator = ConnectorEmulator(require_auth=False)
    emulator.start()
    yield emulator
    emulator.stop()


@dataclass
class Rig:
    store: SqlStore
    ledger: OutreachLedger
    engine: OutreachEngine
    teams: ConnectorEmulator
    clock: FakeClock
    url: str
    client: BotConnector

    async def notify(self, count: int, *, key: str = "k") -> str:
        async with self.store.transaction() as tx:
            for n in range(count):
                await tx.upsert_conversation(
                    ConversationRecord(
                        conversation_id=f"a:chat-{n:03d}",
                        tenant_id=TENANT,
                        kind=ConversationKind.PERSONAL,
                        service_url=self.teams.url,
                        reference={},
                    )
                )
        notification, _ = await self.ledger.create_notification(
            tenant_id=TENANT,
            sender="api:test",
            idempotency_key=key,
            card=card("v1"),
            ack_required=False,
            send_at=self.clock(),
            now=self.clock(),
            recipients=[(f"c:{n:03d}", {"conversationId": f"a:chat-{n:03d}"}) for n in range(count)],
        )
        return notification.id

    async def settle(self) -> None:
        """Drain until nothing is queued, moving the clock past each retry's wait (Retry-After, backoff)."""
        for _ in range(12):
            await self.engine.drain()
            left = await self.store.db.fetchval(
                "SELECT (SELECT COUNT(*) FROM deliveries WHERE state IN ('queued', 'claimed')) + "
                "(SELECT COUNT(*) FROM delivery_operations WHERE state IN ('queued', 'claimed'))"
            )
            if not left:
                return
            self.clock.advance(seconds=30)

    def sends(self) -> list[Recorded]:
        return [r for r in self.teams.recorded if r.kind == "send"]

    def shown(self, sent: Recorded) -> list[str]:
        copy = self.teams.copy(sent.id)
        assert copy is not None and not copy.deleted
        return card_texts(copy.activity["attachments"][0]["content"])


def make_engine(
    store: SqlStore,
    client: BotConnector,
    url: str,
    clock: FakeClock,
    engine_id: str | None = None,
    rps: float = 50,
    concurrency: int = 8,
) -> OutreachEngine:
    return OutreachEngine(
        store,
        client,
        StoredConversationResolver(store, client, bot_id="28:b", service_url=url),
        NotificationActivities(store),
        clock=clock,
        tenant_limiter=TenantLimiter(rps),
        conversation_limiter=ConversationLimiter(),
        concurrency=concurrency,
        max_attempts=6,
        engine_id=engine_id,
    )


@pytest.fixture
async def rig(database_url: str, teams: ConnectorEmulator, clock: FakeClock) -> AsyncIterator[Rig]:
    store = await open_store(database_url)
    client = BotConnector(None)
    engine = make_engine(store, client, teams.url, clock)
    yield Rig(store, OutreachLedger(store.db), engine, teams, clock, database_url, client)
    await client.close()
    await store.close()


async def test_an_edit_changes_every_copy_exactly_once_through_429s_and_5xx(rig: Rig) -> None:
    nid = await rig.notify(12)
    await rig.settle()
    rig.teams.inject(429, 3, retry_after=1)
    rig.teams.inject(502, 2)
    rig.teams.inject(504, 1)
    assert await rig.ledger.operations.revise(nid, card("v2"), rig.clock()) == 2
    await rig.settle()
    assert {tuple(rig.shown(s)) for s in rig.sends()} == {("v2",)}
    assert [rig.teams.copy(s.id).updates for s in rig.sends()] == [1] * 12  # type: ignore[union-attr]
    progress = await rig.ledger.operations.progress(nid)
    assert progress[2]["done"] == 12 and progress[2]["done:updated"] == 12
    assert rig.engine.stats.get("op:retry:throttled") == 3 and rig.engine.stats.get("op:retry:transient") == 3


async def test_a_later_revision_supersedes_one_still_queued(rig: Rig) -> None:
    nid = await rig.notify(5)
    await rig.settle()
    await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    await rig.ledger.operations.revise(nid, card("v3"), rig.clock())
    await rig.settle()
    assert [(rig.shown(s), rig.teams.copy(s.id).updates) for s in rig.sends()] == [(["v3"], 1)] * 5  # type: ignore[union-attr]
    progress = await rig.ledger.operations.progress(nid)
    assert progress[2] == {"superseded": 5} and progress[3]["done:updated"] == 5


async def test_queued_deliveries_are_sent_with_the_latest_revision_and_need_no_update(rig: Rig) -> None:
    nid = await rig.notify(4)
    await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    await rig.settle()
    assert [card_texts(s.activity["attachments"][0]["content"]) for s in rig.sends()] == [["v2"]] * 4
    assert not [r for r in rig.teams.recorded if r.kind == "update"]
    assert (await rig.ledger.operations.progress(nid))[2] == {"done": 4, "done:current": 4}
    page = await rig.ledger.page(nid, state=None, after="", limit=10)
    assert {d.revision for d in page} == {2}


async def test_a_recall_deletes_the_copies_and_cancels_the_deliveries_not_sent(rig: Rig) -> None:
    nid = await rig.notify(6)
    await rig.settle()
    await rig.ledger.add_recipients(
        nid, TENANT, [("c:late", {"conversationId": "a:late"})], send_at=rig.clock(), now=rig.clock()
    )
    number, cancelled, copies = await rig.ledger.operations.recall(nid, mode="delete", card=None, now=rig.clock())
    assert (number, cancelled, copies) == (2, 1, 6)
    await rig.settle()
    assert all(rig.teams.copy(s.id).deleted for s in rig.sends())  # type: ignore[union-attr]
    assert len(rig.sends()) == 6
    assert (await rig.ledger.operations.progress(nid))[2] == {"done": 6, "done:recalled": 6}


async def test_a_claimed_delivery_is_not_sent_once_recalled(rig: Rig) -> None:
    nid = await rig.notify(1)
    (claimed,) = await rig.ledger.claim_due(rig.clock(), limit=5, lease=LEASE, owner="slow")
    await rig.ledger.operations.recall(nid, mode="delete", card=None, now=rig.clock())
    assert not await rig.ledger.mark_sending(claimed, rig.clock())
    assert (await rig.ledger.totals(nid))["cancelled"] == 1


async def test_a_recall_supersedes_a_queued_edit(rig: Rig) -> None:
    nid = await rig.notify(3)
    await rig.settle()
    await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    await rig.ledger.operations.recall(nid, mode="replace", card=card("withdrawn"), now=rig.clock())
    await rig.settle()
    assert [(rig.shown(s), rig.teams.copy(s.id).updates) for s in rig.sends()] == [(["withdrawn"], 1)] * 3  # type: ignore[union-attr]


async def test_failures_are_reported_by_reason(rig: Rig) -> None:
    nid = await rig.notify(3)
    await rig.settle()
    first, second, _ = rig.sends()
    rig.teams.user_deletes(first.id)
    rig.teams.uninstalled.add(second.conversation_id)
    await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    await rig.settle()
    progress = (await rig.ledger.operations.progress(nid))[2]
    assert progress["failed:copy_deleted"] == 1 and progress["failed:conversation_gone"] == 1
    assert progress["done:updated"] == 1


async def test_a_copy_that_never_arrived_is_skipped(rig: Rig) -> None:
    nid = await rig.notify(2)
    rig.teams.uninstalled.add("a:chat-001")
    await rig.settle()
    await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    await rig.settle()
    assert (await rig.ledger.operations.progress(nid))[2] == {"done": 1, "done:updated": 1}


async def test_an_edit_or_recall_after_a_recall_is_refused(rig: Rig) -> None:
    nid = await rig.notify(1)
    await rig.ledger.operations.recall(nid, mode="delete", card=None, now=rig.clock())
    with pytest.raises(AlreadyRecalled):
        await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    with pytest.raises(AlreadyRecalled):
        await rig.ledger.operations.recall(nid, mode="delete", card=None, now=rig.clock())


@pytest.mark.parametrize("what", ["edit", "recall"])
async def test_a_killed_worker_is_resumed_by_a_survivor_without_applying_anything_twice(rig: Rig, what: str) -> None:
    count = 60
    nid = await rig.notify(count)
    await rig.settle()
    rig.teams.enforce_limits = False
    rig.teams.write_delay = 0.01
    if what == "edit":
        number = await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    else:
        number, _, _ = await rig.ledger.operations.recall(nid, mode="delete", card=None, now=rig.clock())
    kind, done = ("update", "done:updated") if what == "edit" else ("delete", "done:recalled")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.outreach_worker",
            rig.url,
            rig.teams.url,
            rig.clock().isoformat(),
            "dead",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        rig.teams.wait_for(lambda r: len([x for x in r if x.kind == kind]) >= count // 3, timeout=30)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(10)
    assert worker.returncode == -signal.SIGKILL
    # Leases untouched (two minutes): the survivor's heartbeat sees the dead engine's went quiet and releases them.
    rig.clock.advance(seconds=20)
    survivor = make_engine(rig.store, rig.client, rig.teams.url, rig.clock, engine_id="survivor")
    await ReplicaCoordinator(rig.store, TenantLimiter(50), clock=rig.clock, engine_id="survivor").beat()
    await survivor.drain()
    applied = [c.updates + c.deletes for c in (rig.teams.copy(s.id) for s in rig.sends()) if c]
    progress = (await rig.ledger.operations.progress(nid))[number]
    assert max(applied) == 1  # nothing applied twice
    if what == "recall":  # an interrupted delete is repeated: Teams refuses it if the first had arrived
        assert applied == [1] * count and progress[done] == count
        return
    maybe = progress.get("maybe_applied", 0)  # an interrupted update is never repeated
    assert progress[done] + maybe == count and maybe <= 8  # at most what was in flight
    assert applied.count(0) <= maybe  # a copy left unchanged is one recorded as "maybe"


async def test_the_emulator_answers_404_for_an_unknown_or_deleted_copy(teams: ConnectorEmulator) -> None:
    client = BotConnector(None)
    try:
        with pytest.raises(ConnectorFailure) as unknown:
            await client.update(teams.url, "a:x", "no-such-id", {"type": "message"})
        assert unknown.value.status == 404 and unknown.value.code == "ActivityNotFoundInConversation"
        sent = await client.send(teams.url, "a:x", {"type": "message"})
        assert sent is not None
        await client.delete(teams.url, "a:x", sent)
        with pytest.raises(ConnectorFailure) as gone:
            await client.update(teams.url, "a:x", sent, {"type": "message"})
        assert gone.value.status == 404
    finally:
        await client.close()


async def test_the_emulator_counts_updates_against_the_conversations_send_limits(teams: ConnectorEmulator) -> None:
    client = BotConnector(None)
    try:
        sent = await client.send(teams.url, "a:x", {"type": "message"})
        assert sent is not None
        with pytest.raises(ConnectorFailure) as throttled:
            for _ in range(8):  # the send counts too: 7 per second in all
                await client.update(teams.url, "a:x", sent, {"type": "message", "text": "again"})
        assert throttled.value.status == 429 and throttled.value.retry_after is not None
    finally:
        await client.close()


async def test_operations_wait_in_the_bulk_lane_behind_a_small_notification(rig: Rig) -> None:
    nid = await rig.notify(30)
    await rig.settle()
    await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    await rig.ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="notice",
        card=card("urgent"),
        ack_required=False,
        send_at=rig.clock(),
        now=rig.clock(),
        recipients=[("c:urgent", {"conversationId": "a:chat-000"})],
    )
    # Slow enough that the order of grants shows; every operation and the notice claimed in one batch.
    paced = make_engine(rig.store, rig.client, rig.teams.url, rig.clock, rps=20, concurrency=64)
    await paced.drain()
    after_edit = [r.kind for r in rig.teams.recorded[30:]]
    assert len(after_edit) == 31
    # The notice is granted as soon as it asks (after the pace's initial burst and the grant under way), not after
    # the edit's queue of bulk operations.
    assert after_edit.index("send") <= TenantLimiter.BURST + 2


async def test_an_interrupted_delete_is_repeated_and_a_refused_repeat_counts_as_done(rig: Rig) -> None:
    nid = await rig.notify(1)
    await rig.settle()
    number, _, _ = await rig.ledger.operations.recall(nid, mode="delete", card=None, now=rig.clock())
    await rig.ledger.engines.heartbeat("dead", rig.clock(), expiry=timedelta(seconds=6))
    (op,) = await rig.ledger.operations.claim_due(rig.clock(), limit=5, lease=LEASE, owner="dead")
    assert await rig.ledger.operations.mark_applying_many([op], rig.clock())
    (sent,) = rig.sends()
    await rig.client.delete(rig.teams.url, sent.conversation_id, sent.id)  # the dead engine's request had arrived
    rig.clock.advance(seconds=20)
    await ReplicaCoordinator(rig.store, TenantLimiter(50), clock=rig.clock).beat()
    await rig.settle()
    assert (await rig.ledger.operations.progress(nid))[number] == {"done": 1, "done:recalled": 1}
    assert rig.teams.copy(sent.id).deletes == 1 and rig.teams.missing[sent.id] == 1  # type: ignore[union-attr]


async def test_an_interrupted_update_is_recorded_maybe_applied_and_never_repeated(rig: Rig) -> None:
    nid = await rig.notify(1)
    await rig.settle()
    number = await rig.ledger.operations.revise(nid, card("v2"), rig.clock())
    await rig.ledger.engines.heartbeat("dead", rig.clock(), expiry=timedelta(seconds=6))
    (op,) = await rig.ledger.operations.claim_due(rig.clock(), limit=5, lease=LEASE, owner="dead")
    assert await rig.ledger.operations.mark_applying_many([op], rig.clock())
    rig.clock.advance(seconds=20)
    await ReplicaCoordinator(rig.store, TenantLimiter(50), clock=rig.clock).beat()
    await rig.settle()
    progress = (await rig.ledger.operations.progress(nid))[number]
    assert progress == {"maybe_applied": 1, "maybe_applied:interrupted_while_applying": 1}
    assert not [r for r in rig.teams.recorded if r.kind == "update"]
