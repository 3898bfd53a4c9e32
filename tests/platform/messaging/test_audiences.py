"""Audiences and timing through the real engine, connector and Graph emulators, on SQLite and PostgreSQL.

"Everyone" (every enabled account, guests left out unless asked, paged and resumable), 09:00 in each recipient's
own zone (across zones and a DST change), and important notifications' activity-feed notifications.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.platform.graph import GraphClient
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.messaging.engine import NotificationActivities, OutreachEngine, StoredConversationResolver
from bot.platform.messaging.expansion import Members, TenantUsers
from bot.platform.messaging.feed import ActivityFeed
from bot.platform.messaging.ledger import Delivery, OutreachLedger
from bot.platform.messaging.localtime import LocalDue, wall_text
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter
from bot.platform.settings import Settings
from bot.platform.storage import ConversationKind, ConversationRecord, SqlStore, open_store
from bot.platform.teams.connector import BotConnector
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.tls import TestCA
from bot.tools.packaging import render_manifest
from tests.support.clock import FakeClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000e0e0e"
GRAPH = "https://graph.microsoft.com"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Office closed Friday"}]}
ALL_ROLES = ("User.Read.All", "TeamsActivity.Send")
EVERYONE = ("everyone", {"everyone": True, "excludeGuests": True})
DEFAULT_ZONE = "Europe/London"


def oid(n: int) -> str:
    return f"{n:08d}-aaaa-4bbb-8ccc-000000000000"


def user(n: int) -> tuple[str, dict[str, Any]]:
    return f"user:{oid(n)}", {"userId": oid(n)}


@dataclass
class Rig:
    store: SqlStore
    engine: OutreachEngine
    connector: ConnectorEmulator
    graph: GraphEmulator
    clock: FakeClock
    make_engine: Any

    @property
    def ledger(self) -> OutreachLedger:
        return OutreachLedger(self.store.db)

    async def notify(
        self,
        *recipients: tuple[str, dict[str, Any]],
        local: datetime | None = None,
        important: bool = False,
    ) -> str:
        due = await LocalDue(self.store, DEFAULT_ZONE).due_times(TENANT, local, recipients) if local else None
        notification, _ = await self.ledger.create_notification(
            tenant_id=TENANT,
            sender="api:test",
            idempotency_key="k",
            card=CARD,
            ack_required=False,
            send_at=self.clock(),
            now=self.clock(),
            recipients=list(recipients),
            due=due,
            local_time=wall_text(local) if local else None,
            important=important,
        )
        return notification.id

    async def deliveries(self, nid: str) -> list[Delivery]:
        return await self.ledger.page(nid, state=None, after="", limit=10_000)

    async def sent_to(self, nid: str) -> set[str]:
        return {d.recipient_key for d in await self.deliveries(nid) if d.state.value == "sent"}

    async def lives_in(self, n: int, zone: str, *, teams: bool = False) -> None:
        """User ``n`` set their zone (or Teams sent it with their messages)."""
        await self.store.people.set_preference(
            TENANT, oid(n), self.clock(), **({"teams_zone": zone} if teams else {"zone": zone})
        )


@pytest.fixture
def graph_roles() -> tuple[str, ...]:
    return ALL_ROLES


WITHOUT_ROLES = pytest.mark.parametrize("graph_roles", [()])


@pytest.fixture
async def rig(
    database_url: str,
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
    store = await open_store(database_url)
    connector.ceiling_rps = 100_000  # pacing has its own tests; these are about who gets what, when
    settings = Settings(app_id=APP_ID, app_password="s", public_url="https://courier.contoso.com")
    graph.declare_activity_types(render_manifest(settings, [], version="1.0.0"))

    def make_engine() -> OutreachEngine:
        """A fresh engine over the same storage: what a restarted process builds."""
        resolver = StoredConversationResolver(store, client, bot_id=f"28:{APP_ID}", service_url=connector.url)
        return OutreachEngine(
            store,
            client,
            resolver,
            NotificationActivities(store),
            clock=clock,
            tenant_limiter=TenantLimiter(100_000),
            conversation_limiter=ConversationLimiter(),
            concurrency=16,
            members=Members(None, None, TenantUsers(graph_client, credential)),
            local_due=LocalDue(store, DEFAULT_ZONE),
            feed=ActivityFeed(store, graph_client, credential, app_id=APP_ID, clock=clock),
        )

    yield Rig(store, make_engine(), connector, graph, clock, make_engine)
    await client.close()
    await graph_client.close()
    await store.close()


def directory(graph: GraphEmulator) -> None:
    """Three members, a guest, a disabled member and a member from before userType existed (null)."""
    for n in range(3):
        graph.add_user(oid(n), f"member{n}@contoso.com", f"Member {n}")
    graph.add_user(oid(10), "guest_fabrikam.com#EXT#@contoso.com", "Guest", user_type="Guest")
    graph.add_user(oid(11), "left@contoso.com", "Left the company", enabled=False)
    graph.add_user(oid(12), "old@contoso.com", "Old account", user_type=None)


# -- everyone ----------------------------------------------------------------------------------------------
async def test_everyone_reaches_enabled_members_and_leaves_out_guests_and_disabled_accounts(rig: Rig) -> None:
    directory(rig.graph)
    nid = await rig.notify(EVERYONE)
    await rig.engine.drain()
    assert await rig.sent_to(nid) == {user(n)[0] for n in (0, 1, 2, 12)}
    assert (await rig.ledger.totals(nid))["expanded"] == 1
    group = next(d for d in await rig.deliveries(nid) if d.recipient_key == "everyone")
    assert group.reason == "members:4"


async def test_everyone_with_guests_reaches_guests_but_never_disabled_accounts(rig: Rig) -> None:
    directory(rig.graph)
    nid = await rig.notify(("everyone", {"everyone": True, "excludeGuests": False}))
    await rig.engine.drain()
    assert await rig.sent_to(nid) == {user(n)[0] for n in (0, 1, 2, 10, 12)}


async def test_disabled_accounts_are_filtered_by_graph_not_read_and_dropped(rig: Rig) -> None:
    directory(rig.graph)
    rig.graph.add_user(oid(13), "gone@contoso.com", "Gone", enabled=False)
    await rig.notify(EVERYONE)  # 7 accounts, 5 enabled: 3 pages of two when Graph filters, 4 if it did not
    await rig.engine.drain()
    assert rig.graph.requests_to("/v1.0/users") == 3


async def test_a_person_also_named_directly_gets_one_copy(rig: Rig) -> None:
    directory(rig.graph)
    nid = await rig.notify(EVERYONE, user(1))
    await rig.engine.drain()
    assert len(await rig.sent_to(nid)) == 4
    assert len(rig.connector.recorded) == 4


async def test_everyone_resumes_from_the_stored_page_after_a_restart(rig: Rig) -> None:
    for n in range(7):  # four pages of two
        rig.graph.add_user(oid(n), f"u{n}@contoso.com", f"User {n}")
    rig.graph.inject(503, count=2, after=2)  # pages one and two are read, then Graph fails (both attempts)
    nid = await rig.notify(EVERYONE)
    await rig.engine.drain()
    assert len(await rig.sent_to(nid)) == 4
    restarted = rig.make_engine()
    rig.clock.advance(seconds=30)  # beyond the retry's backoff
    await restarted.drain()
    assert await rig.sent_to(nid) == {user(n)[0] for n in range(7)}
    assert len(rig.connector.recorded) == 7
    assert rig.graph.requests_to("/v1.0/users") == 2 + 2 + 2  # two pages, two failures, the last two pages only


async def test_a_throttled_directory_read_waits_for_retry_after_and_goes_on(rig: Rig) -> None:
    directory(rig.graph)
    rig.graph.inject(429, count=1, retry_after=0, after=1)
    nid = await rig.notify(EVERYONE)
    await rig.engine.drain()
    assert len(await rig.sent_to(nid)) == 4


@WITHOUT_ROLES
async def test_everyone_without_user_read_all_names_the_permission(rig: Rig) -> None:
    directory(rig.graph)
    nid = await rig.notify(EVERYONE)
    await rig.engine.drain()
    group = next(d for d in await rig.deliveries(nid) if d.recipient_key == "everyone")
    assert (group.state.value, group.reason) == ("not_installed", "permission_missing:User.Read.All")
    assert rig.connector.recorded == []


# -- 09:00 wherever you are ------------------------------------------------------------------------------------
NINE_ON_DEC_7 = datetime(2026, 12, 7, 9, 0)  # a wall-clock time, in no zone


async def sent_by(rig: Rig, nid: str, when: datetime) -> set[str]:
    rig.clock.set(when)
    await rig.engine.drain()
    return await rig.sent_to(nid)


async def test_each_recipient_gets_it_at_nine_in_their_own_zone(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    await rig.lives_in(1, "Asia/Tokyo")  # set with the timezone command
    await rig.lives_in(2, "America/New_York", teams=True)  # sent by Teams with their messages
    nid = await rig.notify(user(1), user(2), user(3), local=NINE_ON_DEC_7)  # user 3: the default, London
    assert await sent_by(rig, nid, datetime(2026, 12, 6, 23, 59, tzinfo=UTC)) == set()
    assert await sent_by(rig, nid, datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) == {user(1)[0]}
    assert await sent_by(rig, nid, datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) == {user(1)[0], user(3)[0]}
    assert len(await sent_by(rig, nid, datetime(2026, 12, 7, 14, 0, tzinfo=UTC))) == 3


async def test_the_status_counts_who_is_still_waiting_for_their_morning(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    await rig.lives_in(1, "Asia/Tokyo")
    await rig.lives_in(2, "America/New_York")
    nid = await rig.notify(user(1), user(2), user(3), local=NINE_ON_DEC_7)
    assert await rig.ledger.waiting_for_local_time(nid, rig.clock()) == 3
    await sent_by(rig, nid, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
    assert await rig.ledger.waiting_for_local_time(nid, rig.clock()) == 1


async def test_the_zone_a_person_set_beats_the_one_teams_sent(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    await rig.lives_in(1, "America/New_York", teams=True)
    await rig.lives_in(1, "Asia/Tokyo")
    nid = await rig.notify(user(1), local=NINE_ON_DEC_7)
    assert await sent_by(rig, nid, datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) == {user(1)[0]}


async def test_a_time_already_past_in_a_zone_sends_at_once(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))  # 19:00 in Tokyo, 05:00 in New York
    await rig.lives_in(1, "Asia/Tokyo")
    await rig.lives_in(2, "America/New_York")
    nid = await rig.notify(user(1), user(2), local=NINE_ON_DEC_7)
    await rig.engine.drain()
    assert await rig.sent_to(nid) == {user(1)[0]}


async def test_local_times_follow_each_zones_daylight_saving(rig: Rig) -> None:
    # Paris moves to summer time on 2027-03-28 at 01:00 UTC; New York did on 2027-03-14.
    rig.clock.set(datetime(2027, 3, 27, 12, 0, tzinfo=UTC))
    await rig.lives_in(1, "Europe/Paris")
    await rig.lives_in(2, "America/New_York")
    nid = await rig.notify(user(1), user(2), local=datetime(2027, 3, 28, 9, 0))
    assert await sent_by(rig, nid, datetime(2027, 3, 28, 6, 59, tzinfo=UTC)) == set()
    assert await sent_by(rig, nid, datetime(2027, 3, 28, 7, 0, tzinfo=UTC)) == {user(1)[0]}  # 09:00 CEST
    assert await sent_by(rig, nid, datetime(2027, 3, 28, 12, 59, tzinfo=UTC)) == {user(1)[0]}
    assert len(await sent_by(rig, nid, datetime(2027, 3, 28, 13, 0, tzinfo=UTC))) == 2  # 09:00 EDT


async def test_a_time_in_the_spring_forward_gap_moves_to_its_end(rig: Rig) -> None:
    rig.clock.set(datetime(2027, 3, 27, 12, 0, tzinfo=UTC))
    await rig.lives_in(1, "Europe/Paris")
    nid = await rig.notify(user(1), local=datetime(2027, 3, 28, 2, 30))  # 02:30 does not exist in Paris that day
    assert await sent_by(rig, nid, datetime(2027, 3, 28, 1, 29, tzinfo=UTC)) == set()
    assert await sent_by(rig, nid, datetime(2027, 3, 28, 1, 30, tzinfo=UTC)) == {user(1)[0]}  # 03:30 CEST


async def test_the_user_of_a_stored_one_to_one_chat_gets_their_own_zone(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    await rig.lives_in(1, "Asia/Tokyo")
    await rig.store.upsert_conversation(
        ConversationRecord(
            conversation_id="a:chat-1",
            tenant_id=TENANT,
            kind=ConversationKind.PERSONAL,
            service_url=rig.connector.url,
            reference={},
            user_aad_object_id=oid(1),
        )
    )
    nid = await rig.notify(("conversation:a:chat-1", {"conversationId": "a:chat-1"}), local=NINE_ON_DEC_7)
    assert await sent_by(rig, nid, datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) == {"conversation:a:chat-1"}


async def test_everyone_expands_before_the_first_morning_and_each_member_gets_their_own_time(rig: Rig) -> None:
    rig.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    directory(rig.graph)
    await rig.lives_in(0, "Asia/Tokyo")
    await rig.lives_in(1, "America/New_York", teams=True)
    nid = await rig.notify(EVERYONE, local=NINE_ON_DEC_7)
    await rig.engine.drain()
    assert rig.graph.requests_to("/v1.0/users") == 0  # not yet: 09:00 first happens at 19:00 UTC (UTC+14)
    assert await sent_by(rig, nid, datetime(2026, 12, 6, 18, 0, tzinfo=UTC)) == set()
    assert rig.graph.requests_to("/v1.0/users") == 3  # expanded an hour ahead; nobody's morning yet
    assert await rig.ledger.waiting_for_local_time(nid, rig.clock()) == 4
    assert await sent_by(rig, nid, datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) == {user(0)[0]}
    assert len(await sent_by(rig, nid, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))) == 3  # London: 2 and 12
    assert len(await sent_by(rig, nid, datetime(2026, 12, 7, 14, 0, tzinfo=UTC))) == 4


# -- important: the activity feed too ------------------------------------------------------------------------
async def test_an_important_notification_also_reaches_each_persons_activity_feed(rig: Rig) -> None:
    directory(rig.graph)
    nid = await rig.notify(user(0), user(1), important=True)
    await rig.engine.drain()
    assert sorted(u for u, _ in rig.graph.activity_notifications) == [oid(0), oid(1)]
    _, body = rig.graph.activity_notifications[0]
    assert body["activityType"] == "importantAnnouncement"
    assert body["previewText"] == {"content": "Office closed Friday"}
    assert body["templateParameters"] == [{"name": "title", "value": "Office closed Friday"}]
    assert await rig.ledger.feed_totals(nid) == {"sent": 2}
    assert (await rig.ledger.totals(nid))["sent"] == 2


async def test_an_ordinary_notification_sends_no_activity_notification(rig: Rig) -> None:
    directory(rig.graph)
    nid = await rig.notify(user(0))
    await rig.engine.drain()
    assert rig.graph.activity_notifications == []
    assert await rig.ledger.feed_totals(nid) == {}


@pytest.mark.parametrize("graph_roles", [("User.Read.All",)])
async def test_without_teams_activity_send_the_chat_copy_goes_and_the_feed_failure_is_recorded(rig: Rig) -> None:
    directory(rig.graph)
    nid = await rig.notify(user(0), important=True)
    await rig.engine.drain()
    assert (await rig.ledger.totals(nid))["sent"] == 1
    assert await rig.ledger.feed_totals(nid) == {"failed:permission_missing:TeamsActivity.Send": 1}


async def test_graph_refuses_an_activity_type_the_manifest_does_not_declare(rig: Rig) -> None:
    directory(rig.graph)
    rig.graph.activity_types.clear()  # an older package, uploaded before the type was declared
    nid = await rig.notify(user(0), important=True)
    await rig.engine.drain()
    assert (await rig.ledger.totals(nid))["sent"] == 1
    assert await rig.ledger.feed_totals(nid) == {"failed:400:BadRequest": 1}
    assert rig.graph.activity_notifications == []
