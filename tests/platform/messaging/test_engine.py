"""The delivery engine against the real connector emulator: exactly once, limits honoured, failures classified."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.support.clock import FakeClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000e0e0e"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Quarterly update"}]}


async def activity_for(delivery: Delivery) -> dict[str, Any]:
    return {
        "type": "message",
        "summary": "Quarterly update",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": CARD}],
        "channelData": {"notification": {"alert": True}},
    }


@dataclass
class Rig:
    store: SqlStore
    engine: OutreachEngine
    connector: ConnectorEmulator
    clock: FakeClock

    async def notify(self, recipients: list[tuple[str, dict[str, Any]]], key: str = "k1") -> str:
        notification, _ = await OutreachLedger(self.store.db).create_notification(
            tenant_id=TENANT,
            sender="api:test",
            idempotency_key=key,
            card=CARD,
            ack_required=False,
            send_at=self.clock(),
            now=self.clock(),
            recipients=recipients,
        )
        return notification.id

    async def deliver_all(self, nid: str, *, rounds: int = 5) -> None:
        """Drain until nothing is queued, moving the clock past each retry's wait (Retry-After, backoff)."""
        for _ in range(rounds):
            await self.engine.drain()
            if not (await OutreachLedger(self.store.db).totals(nid)).get("queued"):
                return
            self.clock.advance(seconds=30)


@pytest.fixture
async def rig(
    tmp_path: Path, entra: EntraEmulator, connector: ConnectorEmulator, test_ca: TestCA, clock: FakeClock
) -> AsyncIterator[Rig]:
    entra.register_app(APP_ID, tenant=TENANT, secret="s")
    credential = MsalAppCredential(
        Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    )
    client = BotConnector(credential, ssl_context=test_ca.client_ssl_context())
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
    resolver = StoredConversationResolver(store, client, bot_id=f"28:{APP_ID}", service_url=connector.url)
    engine = OutreachEngine(
        store,
        client,
        resolver,
        activity_for,
        clock=clock,
        tenant_limiter=TenantLimiter(50),
        conversation_limiter=ConversationLimiter(),
        concurrency=8,
        max_attempts=4,
    )
    yield Rig(store, engine, connector, clock)
    await client.close()
    await store.close()


def users(count: int) -> list[tuple[str, dict[str, Any]]]:
    return [(f"user:{n:05d}", {"userId": f"{n:08d}-aaaa-bbbb-cccc-000000000000"}) for n in range(count)]


async def test_every_recipient_gets_the_card_exactly_once(rig: Rig) -> None:
    nid = await rig.notify(users(30))
    await rig.deliver_all(nid)  # the emulator's app-wide ceiling may throttle a few: they are retried
    sent = rig.connector.activities()
    assert len(sent) == 30
    assert len(rig.connector.created) == 30
    totals = await OutreachLedger(rig.store.db).totals(nid)
    assert totals["sent"] == 30
    await rig.engine.drain()
    assert len(rig.connector.activities()) == 30


async def test_a_stored_conversation_is_used_without_creating_one(rig: Rig) -> None:
    await rig.store.upsert_conversation(
        ConversationRecord(
            conversation_id="a:known",
            tenant_id=TENANT,
            kind=ConversationKind.PERSONAL,
            service_url=rig.connector.url,
            reference={},
            user_aad_object_id="00000000-aaaa-bbbb-cccc-000000000000",
        )
    )
    await rig.notify(users(1))
    await rig.engine.drain()
    assert rig.connector.activities("a:known") and not rig.connector.created


async def test_a_429_is_retried_after_retry_after_and_delivers_once(rig: Rig) -> None:
    nid = await rig.notify(users(1))
    rig.connector.inject(429, retry_after=1)
    await rig.engine.drain()  # gets the 429, schedules the retry 1 s later
    assert (await OutreachLedger(rig.store.db).totals(nid)).get("queued") == 1
    rig.clock.advance(seconds=0.9)
    await rig.engine.drain()
    assert (await OutreachLedger(rig.store.db).totals(nid)).get("queued") == 1  # not before its Retry-After
    rig.clock.advance(seconds=0.1)
    await rig.engine.drain()
    assert (await OutreachLedger(rig.store.db).totals(nid))["sent"] == 1
    assert len(rig.connector.activities()) == 1


async def test_a_blocked_user_is_a_permanent_failure(rig: Rig) -> None:
    nid = await rig.notify(users(1))
    conversation = next(iter(await _create_all(rig)))
    rig.connector.blocked.add(conversation)
    await rig.engine.drain()
    totals = await OutreachLedger(rig.store.db).totals(nid)
    assert totals["failed:blocked"] == 1


async def test_a_500_after_sending_is_maybe_delivered_and_never_resent(rig: Rig) -> None:
    nid = await rig.notify(users(1))
    await _create_all(rig)
    rig.connector.inject(500)
    await rig.engine.drain()
    await rig.engine.drain()
    assert (await OutreachLedger(rig.store.db).totals(nid))["maybe_delivered"] == 1
    assert rig.connector.activities() == []


async def test_a_user_without_courier_is_not_installed(rig: Rig) -> None:
    nid = await rig.notify([("user:x", {"userId": "11111111-2222-3333-4444-555555555555"})])
    rig.connector.inject(
        403, body={"error": {"code": "Forbidden", "message": "Bot is not installed in user's personal scope"}}
    )
    await rig.engine.drain()
    totals = await OutreachLedger(rig.store.db).totals(nid)
    assert totals["not_installed"] == 1


async def test_sends_to_one_conversation_respect_teams_limits(rig: Rig) -> None:
    await rig.store.upsert_conversation(
        ConversationRecord(
            conversation_id="19:busy@thread.tacv2",
            tenant_id=TENANT,
            kind=ConversationKind.CHANNEL,
            service_url=rig.connector.url,
            reference={},
            team_id="t",
            channel_id="19:busy@thread.tacv2",
        )
    )
    recipients = [(f"channel:{n}", {"conversationId": "19:busy@thread.tacv2"}) for n in range(9)]
    await rig.notify(recipients)
    await rig.engine.drain()
    assert rig.connector.throttled == 0
    stamps = [r.at for r in rig.connector.recorded]
    assert len(stamps) == 9
    assert stamps[7] - stamps[0] >= 0.99  # the 8th waited for the 1-second window


async def _create_all(rig: Rig) -> set[str]:
    """Pre-create the 1:1 conversations the engine will use (so faults hit the send, not the create)."""
    ids = set()
    for _, recipient in users(1):
        conversation = f"a:{uuid.uuid5(uuid.NAMESPACE_URL, recipient['userId'] + TENANT).hex}"
        ids.add(conversation)
        await rig.store.upsert_conversation(
            ConversationRecord(
                conversation_id=conversation,
                tenant_id=TENANT,
                kind=ConversationKind.PERSONAL,
                service_url=rig.connector.url,
                reference={},
                user_aad_object_id=recipient["userId"],
            )
        )
    return ids


async def test_a_upn_recipient_is_resolved_through_graph(
    tmp_path: Path,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    graph: GraphEmulator,
    test_ca: TestCA,
    clock: FakeClock,
) -> None:
    from bot.platform.graph import GraphClient
    from bot.platform.messaging.outbox import graph_user_lookup

    entra.register_app(APP_ID, tenant=TENANT, secret="s", roles={"https://graph.microsoft.com": ("User.Read.All",)})
    settings = Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    credential = MsalAppCredential(settings)
    graph.add_user("cccccccc-1111-2222-3333-444444444444", "ana@contoso.com", "Ana")
    store = await open_store(f"sqlite:///{tmp_path / 'upn.db'}")
    graph_client = GraphClient(graph.url, ssl_context=test_ca.client_ssl_context())
    client = BotConnector(credential, ssl_context=test_ca.client_ssl_context())
    try:
        resolver = StoredConversationResolver(
            store,
            client,
            bot_id="28:b",
            service_url=connector.url,
            lookup_user=graph_user_lookup(graph_client, credential),
        )
        engine = OutreachEngine(store, client, resolver, activity_for, clock=clock)
        notification, _ = await OutreachLedger(store.db).create_notification(
            tenant_id=TENANT,
            sender="api:test",
            idempotency_key="upn",
            card=CARD,
            ack_required=False,
            send_at=clock(),
            now=clock(),
            recipients=[
                ("upn:ana@contoso.com", {"upn": "ana@contoso.com"}),
                ("upn:nobody@contoso.com", {"upn": "nobody@contoso.com"}),
            ],
        )
        await engine.drain()
        totals = await OutreachLedger(store.db).totals(notification.id)
        assert totals["sent"] == 1 and totals["not_installed"] == 1
        created = next(iter(connector.created.values()))
        assert created["members"] == [{"id": "cccccccc-1111-2222-3333-444444444444"}]
    finally:
        await graph_client.close()
        await client.close()
        await store.close()


async def test_a_429_storm_pauses_the_tenant_and_still_delivers_each_card_once(rig: Rig) -> None:
    nid = await rig.notify(users(20))
    rig.connector.inject(429, count=15, retry_after=1)
    for _ in range(6):
        await rig.engine.drain()
        if (await OutreachLedger(rig.store.db).totals(nid)).get("sent") == 20:
            break
        rig.clock.advance(seconds=1)  # the connector's Retry-After
    sent_to = [r.conversation_id for r in rig.connector.recorded]
    assert len(sent_to) == len(set(sent_to)) == 20
    assert rig.engine.stats["retry:throttled"] == 15


async def test_a_connection_reset_after_sending_is_maybe_delivered_and_not_resent(rig: Rig) -> None:
    nid = await rig.notify(users(3))
    rig.connector.resets_after_receipt = 1
    await rig.engine.drain()
    totals = await OutreachLedger(rig.store.db).totals(nid)
    assert totals["sent"] == 2 and totals["maybe_delivered"] == 1
    assert len(rig.connector.recorded) == 3  # it did arrive, once


async def test_a_channel_recipient_is_posted_once_in_that_channel(rig: Rig) -> None:
    await rig.store.upsert_conversation(
        ConversationRecord(
            conversation_id="19:news@thread.tacv2",
            tenant_id=TENANT,
            kind=ConversationKind.CHANNEL,
            service_url=rig.connector.url,
            reference={},
            team_id="19:team@thread.tacv2",
            channel_id="19:news@thread.tacv2",
        )
    )
    channel = {"channel": {"teamId": "19:team@thread.tacv2", "channelId": "19:news@thread.tacv2"}}
    nid = await rig.notify([("channel:news", channel)])
    await rig.engine.drain()
    assert [r.conversation_id for r in rig.connector.recorded] == ["19:news@thread.tacv2"]
    assert (await OutreachLedger(rig.store.db).totals(nid))["sent"] == 1


async def test_unknown_channels_and_conversations_are_not_installed_with_the_reason(rig: Rig) -> None:
    channel = {"channel": {"teamId": "19:other@thread.tacv2", "channelId": "19:x@thread.tacv2"}}
    nid = await rig.notify([("channel:x", channel), ("conversation:y", {"conversationId": "19:gone@thread.v2"})])
    await rig.engine.drain()
    reasons = {
        d.recipient_key: d.reason for d in await OutreachLedger(rig.store.db).page(nid, state=None, after="", limit=9)
    }
    assert reasons == {"channel:x": "not_installed_in_team", "conversation:y": "conversation_unknown"}
    assert rig.connector.recorded == []
