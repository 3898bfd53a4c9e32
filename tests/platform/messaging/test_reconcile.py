"""A send a crash interrupted (committed *sending*, outcome unknown) is reconciled through Graph: the copy that
arrived is recorded sent and never sent again; one that never left is sent exactly once; without the chat
permission it stays maybe delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.platform.graph import GraphClient
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.messaging.engine import NotificationActivities, OutreachEngine, StoredConversationResolver
from bot.platform.messaging.ledger import Delivery, DeliveryState, OutreachLedger
from bot.platform.messaging.operations import card_activity
from bot.platform.messaging.ratelimit import TenantLimiter
from bot.platform.messaging.reconcile import PERMISSION, GraphReconciler, with_marker
from bot.platform.settings import Settings
from bot.platform.storage import SqlStore, open_store
from bot.platform.teams.connector import BotConnector
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.support.clock import FakeClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
GRANTED_APP = "00000000-0000-0000-0000-00000000c0a1"  # the chat's resource-specific consent given
UNGRANTED_APP = "00000000-0000-0000-0000-00000000c0a2"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Fire drill at 3"}]}
USER = "00000001-0000-4000-8000-000000000000"


@dataclass
class Rig:
    store: SqlStore
    ledger: OutreachLedger
    connector: ConnectorEmulator
    client: BotConnector
    resolver: StoredConversationResolver
    engine: OutreachEngine
    clock: FakeClock


@pytest.fixture
async def rigs(
    database_url: str,
    clock: FakeClock,
    entra: EntraEmulator,
    test_ca: TestCA,
    open_connector: ConnectorEmulator,
    chats_graph: GraphEmulator,
) -> AsyncIterator[Callable[[bool], Awaitable[Rig]]]:
    """Makes the engine rig: with Courier's app granted ``ChatMessage.Read.Chat`` in the chat, or not."""
    closing: list[Callable[[], Awaitable[None]]] = []

    async def make(granted: bool) -> Rig:
        app_id = GRANTED_APP if granted else UNGRANTED_APP
        roles = (PERMISSION,) if granted else ()
        entra.register_app(app_id, tenant=TENANT, secret="s", roles={"https://graph.microsoft.com": roles})
        credential = MsalAppCredential(
            Settings(app_id=app_id, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
        )
        graph = GraphClient(chats_graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=2)
        store = await open_store(database_url)
        client = BotConnector(None)
        closing.extend([client.close, graph.close, store.close])
        resolver = StoredConversationResolver(store, client, bot_id="28:b", service_url=open_connector.url)
        engine = OutreachEngine(
            store,
            client,
            resolver,
            NotificationActivities(store),
            clock=clock,
            tenant_limiter=TenantLimiter(10_000),
            reconciler=GraphReconciler(graph, credential),
        )
        return Rig(store, OutreachLedger(store.db), open_connector, client, resolver, engine, clock)

    yield make
    for close in closing:
        await close()


async def interrupted(rig: Rig) -> Delivery:
    """One delivery whose process died after its committed "sending" mark (released as a dead claim would be)."""
    await rig.ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="drill",
        card=CARD,
        ack_required=False,
        send_at=rig.clock(),
        now=rig.clock(),
        recipients=[(f"user:{USER}", {"userId": USER})],
    )
    (claimed,) = await rig.ledger.claim_due(rig.clock(), limit=1, lease=timedelta(minutes=2))
    assert await rig.ledger.mark_sending(claimed, rig.clock())
    assert await rig.ledger.release(claimed, rig.clock())
    (delivery,) = await rig.ledger.interrupted(
        since=rig.clock() - timedelta(hours=1), before=rig.clock() + timedelta(1)
    )
    return delivery


async def state_of(rig: Rig, delivery: Delivery) -> tuple[DeliveryState, str | None]:
    (row,) = await rig.ledger.page(delivery.notification_id, state=None, after="", limit=10)
    return row.state, row.activity_id


async def the_request_arrived(rig: Rig, delivery: Delivery) -> str | None:
    """The request had left before the crash: the copy (with its marker) is in the recipient's chat."""
    target = await rig.resolver.resolve(delivery)
    return await rig.client.send(target.service_url, target.conversation_id, with_marker(card_activity(CARD), delivery))


async def test_an_interrupted_send_whose_request_never_left_is_sent_exactly_once(
    rigs: Callable[[bool], Awaitable[Rig]],
) -> None:
    rig = await rigs(True)
    delivery = await interrupted(rig)
    rig.clock.advance(minutes=1)  # longer than a request can be in flight

    await rig.engine.drain()
    await rig.engine.drain()  # a later recovery finds nothing more to do

    assert len(rig.connector.recorded) == 1
    assert (await state_of(rig, delivery))[0] is DeliveryState.SENT


async def test_an_interrupted_send_whose_request_arrived_is_recorded_sent_without_a_second_copy(
    rigs: Callable[[bool], Awaitable[Rig]],
) -> None:
    rig = await rigs(True)
    delivery = await interrupted(rig)
    activity_id = await the_request_arrived(rig, delivery)
    rig.clock.advance(minutes=1)

    await rig.engine.drain()

    assert len(rig.connector.recorded) == 1
    assert await state_of(rig, delivery) == (DeliveryState.SENT, activity_id)


async def test_an_interrupted_send_is_not_resent_while_its_request_may_still_be_in_flight(
    rigs: Callable[[bool], Awaitable[Rig]],
) -> None:
    rig = await rigs(True)
    delivery = await interrupted(rig)

    await rig.engine.drain()

    assert rig.connector.recorded == []
    assert (await state_of(rig, delivery))[0] is DeliveryState.MAYBE_DELIVERED


async def test_an_interrupted_send_in_a_chat_busier_than_one_page_is_never_guessed_absent(
    rigs: Callable[[bool], Awaitable[Rig]],
) -> None:
    rig = await rigs(True)
    delivery = await interrupted(rig)
    target = await rig.resolver.resolve(delivery)
    for _ in range(51):  # more than Graph's largest page of chat messages, none of them this delivery's copy
        await rig.client.send(target.service_url, target.conversation_id, card_activity(CARD))
    rig.clock.advance(minutes=1)

    await rig.engine.drain()

    assert len(rig.connector.recorded) == 51
    assert (await state_of(rig, delivery))[0] is DeliveryState.MAYBE_DELIVERED


async def test_without_the_chat_permission_an_interrupted_send_stays_maybe_delivered(
    rigs: Callable[[bool], Awaitable[Rig]],
) -> None:
    rig = await rigs(False)
    delivery = await interrupted(rig)
    rig.clock.advance(minutes=1)

    await rig.engine.drain()

    assert rig.connector.recorded == []
    assert (await state_of(rig, delivery))[0] is DeliveryState.MAYBE_DELIVERED


async def test_the_marker_is_an_invisible_element_of_the_card_graph_returns() -> None:
    delivery = Delivery("n1", "user:u", {"userId": "u"}, TENANT, DeliveryState.SENDING, 1)
    card = with_marker(card_activity(CARD), delivery)["attachments"][0]["content"]
    assert card["body"][0] == CARD["body"][0]
    assert card["body"][-1]["isVisible"] is False
    assert card["body"][-1]["id"].startswith("courier-delivery-")
    assert CARD["body"] == [{"type": "TextBlock", "text": "Fire drill at 3"}]  # the shared card is untouched
