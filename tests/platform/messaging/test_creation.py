"""Creating a 1:1 conversation is a request like a send: paced by the tenant's limit, counted, and given up on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.messaging.engine import OutreachEngine, StoredConversationResolver
from bot.platform.messaging.ledger import Delivery, OutreachLedger
from bot.platform.messaging.ratelimit import ConversationLimiter, Lane, TenantLimiter
from bot.platform.settings import Settings
from bot.platform.storage import SqlStore, open_store
from bot.platform.teams.connector import BotConnector
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.support.clock import FakeClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000c0c0c"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": []}
MAX_ATTEMPTS = 4


async def _activity(delivery: Delivery) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": CARD}],
    }


class Paced(TenantLimiter):
    """The real limiter, counting who waited for it."""

    def __init__(self) -> None:
        super().__init__(50)
        self.waits = 0

    async def acquire(self, tenant_id: str, lane: Lane = Lane.BULK) -> None:
        self.waits += 1
        await super().acquire(tenant_id, lane)


@pytest.fixture
async def parts(
    tmp_path: Path, entra: EntraEmulator, connector: ConnectorEmulator, test_ca: TestCA, clock: FakeClock
) -> AsyncIterator[tuple[SqlStore, OutreachEngine, Paced]]:
    entra.register_app(APP_ID, tenant=TENANT, secret="s")
    credential = MsalAppCredential(
        Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    )
    client = BotConnector(credential, ssl_context=test_ca.client_ssl_context())
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
    tenants = Paced()
    resolver = StoredConversationResolver(
        store, client, bot_id=f"28:{APP_ID}", service_url=connector.url, tenants=tenants
    )
    engine = OutreachEngine(
        store,
        client,
        resolver,
        _activity,
        clock=clock,
        tenant_limiter=tenants,
        conversation_limiter=ConversationLimiter(),
        max_attempts=MAX_ATTEMPTS,
    )
    yield store, engine, tenants
    await client.close()
    await store.close()


async def _first_timer(store: SqlStore, clock: FakeClock) -> str:
    notification, _ = await OutreachLedger(store.db).create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="first",
        card=CARD,
        ack_required=False,
        send_at=clock(),
        now=clock(),
        recipients=[("user:new", {"userId": "9a9a9a9a-1111-2222-3333-444444444444"})],
    )
    return notification.id


async def test_a_connector_failing_every_creation_is_tried_a_bounded_number_of_times(
    parts: tuple[SqlStore, OutreachEngine, Paced], connector: ConnectorEmulator, clock: FakeClock
) -> None:
    store, engine, _ = parts
    nid = await _first_timer(store, clock)
    connector.inject(502, count=1000)
    for _ in range(MAX_ATTEMPTS + 3):
        await engine.drain()
        clock.advance(minutes=5)  # past every backoff
    tried = 1000 - (connector.faults[0].remaining if connector.faults else 0)
    totals = await OutreachLedger(store.db).totals(nid)
    assert tried == MAX_ATTEMPTS
    assert totals.get("failed") == 1 and totals.get("failed:gave_up:transient") == 1


async def test_creating_a_conversation_waits_for_the_tenants_pace(
    parts: tuple[SqlStore, OutreachEngine, Paced], connector: ConnectorEmulator, clock: FakeClock
) -> None:
    store, engine, tenants = parts
    await _first_timer(store, clock)
    await engine.drain()
    assert len(connector.activities()) == 1
    assert tenants.waits == 2  # one for creating the chat, one for the send
