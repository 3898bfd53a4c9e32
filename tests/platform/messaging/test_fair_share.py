"""A tenant's broadcast waiting for its pace takes only its share of the engine's sending slots: another tenant's
notifications are claimed and sent meanwhile instead of queueing behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.messaging.engine import OutreachEngine, StoredConversationResolver
from bot.platform.messaging.ledger import Delivery, OutreachLedger
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter
from bot.platform.settings import Settings
from bot.platform.storage import ConversationKind, ConversationRecord, SqlStore, open_store
from bot.platform.teams.connector import BotConnector
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.support.clock import FakeClock
from tests.support.pacing import FakeTime

SATURATED = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "b2f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000e0e0f"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "News"}]}
BROADCAST = 120  # more than a small notification: the bulk lane


async def _activity(delivery: Delivery) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": CARD}],
    }


def _user(tenant: str, n: int) -> str:
    return f"{n:08d}-aaaa-bbbb-cccc-{tenant[:12]}"


@pytest.fixture
async def parts(
    tmp_path: Path, entra: EntraEmulator, connector: ConnectorEmulator, test_ca: TestCA, clock: FakeClock
) -> AsyncIterator[tuple[SqlStore, OutreachEngine, FakeTime]]:
    entra.register_app(APP_ID, tenant=SATURATED, secret="s")
    credential = MsalAppCredential(
        Settings(app_id=APP_ID, app_password="s", app_tenant_id=SATURATED, login_authority_host=entra.url)
    )
    client = BotConnector(credential, ssl_context=test_ca.client_ssl_context())
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
    async with store.transaction() as tx:
        for tenant in (SATURATED, OTHER):
            for n in range(BROADCAST):
                user = _user(tenant, n)
                record = ConversationRecord(
                    f"a:{tenant[:2]}-{n}", tenant, ConversationKind.PERSONAL, connector.url, {}, user
                )
                await tx.upsert_conversation(record)
    time = FakeTime()  # frozen until the test lets it run: after its burst, a tenant waits for its pace
    engine = OutreachEngine(
        store,
        client,
        StoredConversationResolver(store, client, bot_id=f"28:{APP_ID}", service_url=connector.url),
        _activity,
        clock=clock,
        tenant_limiter=TenantLimiter(10.0, clock=time.clock, sleep=time.sleep),
        conversation_limiter=ConversationLimiter(),
        concurrency=8,
    )
    yield store, engine, time
    await client.close()
    await store.close()


async def _broadcast(store: SqlStore, tenant: str, clock: FakeClock, *, queued_ago: timedelta) -> None:
    await OutreachLedger(store.db).create_notification(
        tenant_id=tenant,
        sender="api:test",
        idempotency_key=tenant,
        card=CARD,
        ack_required=False,
        send_at=clock() - queued_ago,
        now=clock(),
        recipients=[(f"user:{n}", {"userId": _user(tenant, n)}) for n in range(BROADCAST)],
    )


async def test_another_tenants_broadcast_is_sent_while_a_saturated_one_waits_for_its_pace(
    parts: tuple[SqlStore, OutreachEngine, FakeTime], connector: ConnectorEmulator, clock: FakeClock
) -> None:
    store, engine, time = parts
    await _broadcast(store, SATURATED, clock, queued_ago=timedelta(minutes=5))
    await _broadcast(store, OTHER, clock, queued_ago=timedelta(0))
    stop = asyncio.Event()
    running = asyncio.create_task(engine.run(stop))

    arrived = await connector.wait_for_async(lambda r: any(a.conversation_id.startswith("a:b2") for a in r))

    assert sum(a.conversation_id.startswith("a:72") for a in arrived) < BROADCAST  # the first is still waiting
    stop.set()
    await time.run(running)  # let time pass: what was in flight finishes, the engine stops
