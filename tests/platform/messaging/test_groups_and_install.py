"""Team and group recipients expand into their members; recipients without Courier get it installed through Graph."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.platform.graph import GraphClient
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.messaging.engine import OutreachEngine, StoredConversationResolver
from bot.platform.messaging.expansion import GroupMembers, Members, TeamRoster
from bot.platform.messaging.installer import GraphInstaller
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
CATALOG_ID = "5f0e2a9c-1111-4222-8333-944444444444"
TEAM = "19:team-general@thread.tacv2"
GRAPH = "https://graph.microsoft.com"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "All hands"}]}
ALL_ROLES = (
    "GroupMember.Read.All",
    "AppCatalog.Read.All",
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
)


def oid(n: int) -> str:
    return f"{n:08d}-aaaa-4bbb-8ccc-000000000000"


async def activity_for(delivery: Delivery) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": CARD}],
    }


@dataclass
class Rig:
    store: SqlStore
    engine: OutreachEngine
    connector: ConnectorEmulator
    graph: GraphEmulator
    clock: FakeClock

    async def notify(self, *recipients: tuple[str, dict[str, Any]]) -> str:
        notification, _ = await OutreachLedger(self.store.db).create_notification(
            tenant_id=TENANT,
            sender="api:test",
            idempotency_key="k",
            card=CARD,
            ack_required=False,
            send_at=self.clock(),
            now=self.clock(),
            recipients=list(recipients),
        )
        return notification.id

    async def delivery(self, nid: str, key: str) -> Delivery:
        rows = await OutreachLedger(self.store.db).page(nid, state=None, after="", limit=10_000)
        return next(d for d in rows if d.recipient_key == key)

    def wait_out_retries(self) -> None:
        """Time passes beyond any retry's wait (Retry-After, backoff)."""
        self.clock.advance(seconds=30)

    async def team_installed(self) -> None:
        await self.store.upsert_conversation(
            ConversationRecord(
                conversation_id=TEAM,
                tenant_id=TENANT,
                kind=ConversationKind.CHANNEL,
                service_url=self.connector.url,
                reference={},
                team_id=TEAM,
                channel_id=TEAM,
            )
        )


@pytest.fixture
def graph_roles() -> tuple[str, ...]:
    """The Graph application permissions Courier was granted (a test parametrizes fewer)."""
    return ALL_ROLES


WITHOUT_ROLES = pytest.mark.parametrize("graph_roles", [()])


@pytest.fixture
async def rig(
    tmp_path: Path,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    graph: GraphEmulator,
    test_ca: TestCA,
    clock: FakeClock,
    graph_roles: tuple[str, ...],
) -> AsyncIterator[Rig]:
    entra.register_app(APP_ID, tenant=TENANT, secret="s", roles={GRAPH: graph_roles})
    credential = MsalAppCredential(
        Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    )
    client = BotConnector(credential, ssl_context=test_ca.client_ssl_context())
    graph_client = GraphClient(graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=2)
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
    connector.ceiling_rps = 100_000  # pacing has its own tests; these are about who gets what
    graph.catalog[APP_ID] = CATALOG_ID
    graph.on_install = connector.without_app.discard
    conversations = ConversationLimiter()
    resolver = StoredConversationResolver(
        store,
        client,
        bot_id=f"28:{APP_ID}",
        service_url=connector.url,
        installer=GraphInstaller(graph_client, credential, manifest_id=APP_ID),
    )
    engine = OutreachEngine(
        store,
        client,
        resolver,
        activity_for,
        clock=clock,
        tenant_limiter=TenantLimiter(100_000),
        conversation_limiter=conversations,
        concurrency=16,
        members=Members(TeamRoster(store, client, conversations), GroupMembers(graph_client, credential)),
    )
    yield Rig(store, engine, connector, graph, clock)
    await client.close()
    await graph_client.close()
    await store.close()


def roster(count: int) -> list[dict[str, Any]]:
    return [{"id": f"29:member-{n}", "aadObjectId": oid(n), "name": f"Member {n}"} for n in range(count)]


async def test_a_team_recipient_reaches_every_member_once_in_a_direct_chat(rig: Rig) -> None:
    await rig.team_installed()
    rig.connector.add_members(TEAM, roster(1_201))  # three roster pages of 500
    nid = await rig.notify((f"team:{TEAM}", {"team": TEAM}))
    await rig.engine.drain()
    totals = await OutreachLedger(rig.store.db).totals(nid)
    assert totals["sent"] == 1_201 and totals["expanded"] == 1
    sent_to = [r.conversation_id for r in rig.connector.recorded]
    assert len(sent_to) == len(set(sent_to)) == 1_201
    assert (await rig.delivery(nid, f"team:{TEAM}")).reason == "members:1201"


async def test_a_member_also_named_directly_gets_one_card(rig: Rig) -> None:
    await rig.team_installed()
    rig.connector.add_members(TEAM, roster(3))
    nid = await rig.notify((f"team:{TEAM}", {"team": TEAM}), (f"user:{oid(1)}", {"userId": oid(1)}))
    await rig.engine.drain()
    assert (await OutreachLedger(rig.store.db).totals(nid))["sent"] == 3
    assert len(rig.connector.recorded) == 3


async def test_a_team_without_courier_is_reported_not_installed(rig: Rig) -> None:
    nid = await rig.notify((f"team:{TEAM}", {"team": TEAM}))
    await rig.engine.drain()
    group = await rig.delivery(nid, f"team:{TEAM}")
    assert group.state.value == "not_installed" and group.reason == "not_installed_in_team"
    assert rig.connector.recorded == []


async def test_a_roster_failure_midway_resumes_from_the_stored_page(rig: Rig) -> None:
    await rig.team_installed()
    rig.connector.add_members(TEAM, roster(1_000))
    nid = await rig.notify((f"team:{TEAM}", {"team": TEAM}))
    claimed = await OutreachLedger(rig.store.db).claim_due(rig.clock(), limit=1, lease=timedelta(minutes=1))
    # The first page is stored, then the worker dies before reading the second.
    members = [(f"user:{oid(n)}", {"userId": oid(n)}) for n in range(500)]
    assert await OutreachLedger(rig.store.db).expand_page(
        claimed[0], members, cursor="500", now=rig.clock(), send_at=rig.clock(), lease=timedelta(seconds=-1)
    )
    await rig.engine.drain()  # recovers the expired claim and reads on from page two
    totals = await OutreachLedger(rig.store.db).totals(nid)
    assert totals["sent"] == 1_000 and totals["expanded"] == 1, totals
    assert len(rig.connector.recorded) == 1_000


async def test_a_throttled_roster_read_is_retried_later(rig: Rig) -> None:
    await rig.team_installed()
    rig.connector.add_members(TEAM, roster(2))
    rig.connector.inject(429, retry_after=1)
    nid = await rig.notify((f"team:{TEAM}", {"team": TEAM}))
    await rig.engine.drain()
    assert (await rig.delivery(nid, f"team:{TEAM}")).state.value == "queued"
    rig.wait_out_retries()
    await rig.engine.drain()
    assert (await OutreachLedger(rig.store.db).totals(nid))["sent"] == 2


async def test_a_group_recipient_reaches_its_transitive_members_through_graph(rig: Rig) -> None:
    for n in range(5):
        rig.graph.add_user(oid(n), f"user{n}@contoso.com", f"User {n}")
    gid = "9a9a9a9a-0000-4000-8000-000000000001"
    rig.graph.add_group(gid, [oid(n) for n in range(5)])  # the emulator pages two at a time
    nid = await rig.notify((f"group:{gid}", {"groupId": gid}))
    await rig.engine.drain()
    totals = await OutreachLedger(rig.store.db).totals(nid)
    assert totals["sent"] == 5 and totals["expanded"] == 1
    assert rig.graph.requests_to(f"/v1.0/groups/{gid}/transitiveMembers") == 3


async def test_an_unknown_group_is_reported(rig: Rig) -> None:
    gid = "9a9a9a9a-0000-4000-8000-00000000dead"
    nid = await rig.notify((f"group:{gid}", {"groupId": gid}))
    await rig.engine.drain()
    assert (await rig.delivery(nid, f"group:{gid}")).reason == "group_not_found"


@WITHOUT_ROLES
async def test_a_group_without_the_permission_names_it(rig: Rig) -> None:
    gid = "9a9a9a9a-0000-4000-8000-000000000002"
    nid = await rig.notify((f"group:{gid}", {"groupId": gid}))
    await rig.engine.drain()
    group = await rig.delivery(nid, f"group:{gid}")
    assert group.reason == "permission_missing:GroupMember.Read.All"


async def test_a_recipient_without_courier_gets_it_installed_then_the_card(rig: Rig) -> None:
    rig.graph.add_user(oid(7), "ana@contoso.com", "Ana")
    rig.connector.without_app.add(oid(7))
    nid = await rig.notify((f"user:{oid(7)}", {"userId": oid(7)}))
    await rig.engine.drain()
    assert (await OutreachLedger(rig.store.db).totals(nid))["sent"] == 1
    assert rig.graph.installed[oid(7)] == {CATALOG_ID}
    assert rig.graph.requests_to(f"/v1.0/users/{oid(7)}/teamwork/installedApps") == 1


async def test_an_app_installed_meanwhile_counts_as_installed(rig: Rig) -> None:
    rig.graph.add_user(oid(8), "bo@contoso.com", "Bo")
    rig.graph.installed[oid(8)] = {CATALOG_ID}  # Graph answers 409 Conflict
    rig.connector.without_app.add(oid(8))
    rig.graph.on_install = None
    nid = await rig.notify((f"user:{oid(8)}", {"userId": oid(8)}))
    rig.connector.without_app.discard(oid(8))  # Teams catches up before the second attempt
    rig.connector.inject(
        403, body={"error": {"code": "Forbidden", "message": "Bot is not installed in user's personal scope"}}
    )
    await rig.engine.drain()
    assert (await OutreachLedger(rig.store.db).totals(nid))["sent"] == 1


@WITHOUT_ROLES
async def test_without_the_install_permission_the_reason_is_recorded_and_nothing_sent(rig: Rig) -> None:
    rig.graph.add_user(oid(9), "cy@contoso.com", "Cy")
    rig.connector.without_app.add(oid(9))
    nid = await rig.notify((f"user:{oid(9)}", {"userId": oid(9)}))
    await rig.engine.drain()
    delivery = await rig.delivery(nid, f"user:{oid(9)}")
    assert delivery.state.value == "not_installed"
    assert delivery.reason == "not_installed:permission_missing:AppCatalog.Read.All"
    assert rig.connector.recorded == []
