"""The Store contract, run against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.platform.storage import ConversationKind, ConversationRecord, SqlStore, TenantRecord, TenantStatus, open_store
from tests.support.clock import DEFAULT_NOW

T0 = DEFAULT_NOW  # the fake clock's now: every time here is relative to it
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def personal(n: int = 1) -> ConversationRecord:
    return ConversationRecord(
        conversation_id=f"a:personal-{n:05d}",
        tenant_id=TENANT,
        kind=ConversationKind.PERSONAL,
        service_url="https://smba.trafficmanager.net/teams/",
        reference={"conversation": {"id": f"a:personal-{n:05d}"}, "serviceUrl": "https://smba.example/"},
        user_aad_object_id=f"user-{n}",
        installed_at=T0,
        updated_at=T0,
    )


def channel(n: int = 1, team: str = "19:team@thread.tacv2") -> ConversationRecord:
    return ConversationRecord(
        conversation_id=f"19:channel-{n}@thread.tacv2",
        tenant_id=TENANT,
        kind=ConversationKind.CHANNEL,
        service_url="https://smba.trafficmanager.net/teams/",
        reference={"conversation": {"id": f"19:channel-{n}@thread.tacv2"}},
        team_id=team,
        channel_id=f"19:channel-{n}@thread.tacv2",
        name=f"Channel {n}",
        installed_at=T0,
        updated_at=T0,
    )


async def test_migrations_are_recorded_and_idempotent(database_url: str) -> None:
    first = await open_store(database_url)
    version = await first.schema_version()
    await first.close()
    again = await open_store(database_url)
    assert version >= 1
    assert await again.schema_version() == version
    await again.close()


async def test_ping_answers(store: SqlStore) -> None:
    assert await store.ping()


async def test_an_activity_is_new_once(store: SqlStore) -> None:
    assert await store.remember_activity("c1", "a1", T0)
    assert not await store.remember_activity("c1", "a1", T0)
    assert await store.remember_activity("c2", "a1", T0)


async def test_old_dedupe_entries_are_pruned(store: SqlStore) -> None:
    await store.remember_activity("c1", "old", T0)
    await store.remember_activity("c1", "new", T0 + timedelta(hours=2))
    assert await store.forget_activities_before(T0 + timedelta(hours=1)) == 1
    assert await store.remember_activity("c1", "old", T0)
    assert not await store.remember_activity("c1", "new", T0)


async def test_upsert_inserts_then_a_replay_changes_nothing(store: SqlStore) -> None:
    assert await store.upsert_conversation(personal())
    before = await store.get_conversation("a:personal-00001")
    assert not await store.upsert_conversation(replace(personal(), updated_at=T0 + timedelta(hours=1)))
    assert await store.get_conversation("a:personal-00001") == before


async def test_upsert_keeps_the_first_install_time(store: SqlStore) -> None:
    await store.upsert_conversation(personal())
    later = T0 + timedelta(days=1)
    assert await store.upsert_conversation(
        replace(personal(), service_url="https://new.example/", installed_at=later, updated_at=later)
    )
    record = await store.get_conversation("a:personal-00001")
    assert record is not None
    assert record.installed_at == T0
    assert record.updated_at == later
    assert record.service_url == "https://new.example/"


async def test_reference_json_round_trips(store: SqlStore) -> None:
    await store.upsert_conversation(replace(personal(), reference={"a": [1, "ü", {"b": None}]}))
    record = await store.get_conversation("a:personal-00001")
    assert record is not None and record.reference == {"a": [1, "ü", {"b": None}]}


async def test_deactivate_then_reactivate(store: SqlStore) -> None:
    await store.upsert_conversation(personal())
    assert await store.deactivate_conversation("a:personal-00001", T0)
    assert not await store.deactivate_conversation("a:personal-00001", T0)
    assert await store.find_personal_conversation(TENANT, "user-1") is None
    assert await store.upsert_conversation(personal())
    found = await store.find_personal_conversation(TENANT, "user-1")
    assert found is not None and found.active


async def test_find_channel_conversation(store: SqlStore) -> None:
    await store.upsert_conversation(channel(1))
    found = await store.find_channel_conversation(TENANT, "19:team@thread.tacv2", "19:channel-1@thread.tacv2")
    assert found is not None and found.name == "Channel 1"
    assert await store.find_channel_conversation(TENANT, "19:team@thread.tacv2", "nope") is None


async def test_deactivate_team_marks_every_channel(store: SqlStore) -> None:
    for n in (1, 2):
        await store.upsert_conversation(channel(n))
    await store.upsert_conversation(channel(3, team="19:other@thread.tacv2"))
    assert await store.deactivate_team(TENANT, "19:team@thread.tacv2", T0) == 2
    other = await store.get_conversation("19:channel-3@thread.tacv2")
    assert other is not None and other.active


async def test_iteration_pages_through_everything_with_filters(store: SqlStore) -> None:
    for n in range(1, 26):
        await store.upsert_conversation(personal(n))
    await store.upsert_conversation(channel(1))
    await store.deactivate_conversation("a:personal-00007", T0)
    seen = [c.conversation_id async for c in store.iter_conversations(kind=ConversationKind.PERSONAL, page_size=4)]
    assert len(seen) == 24
    assert seen == sorted(seen)
    inactive = [c.conversation_id async for c in store.iter_conversations(active=False)]
    assert inactive == ["a:personal-00007"]


async def test_a_transaction_commits_together(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.upsert_conversation(personal(1))
        await tx.upsert_tenant(TenantRecord(tenant_id=TENANT, linked_at=T0))
    assert await store.get_conversation("a:personal-00001") is not None
    assert await store.get_tenant(TENANT) is not None


async def test_a_failed_transaction_leaves_nothing(store: SqlStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.upsert_conversation(personal(1))
            async with tx.transaction() as inner:  # nested use joins the outer transaction
                await inner.put_value("ns", "k", 1)
            raise RuntimeError("boom")
    assert await store.get_conversation("a:personal-00001") is None
    assert await store.get_value("ns", "k") is None


async def test_tenants_are_recorded_and_status_changes(store: SqlStore) -> None:
    assert await store.upsert_tenant(TenantRecord(tenant_id=TENANT, name="Contoso", linked_at=T0))
    assert not await store.upsert_tenant(TenantRecord(tenant_id=TENANT, linked_at=T0))
    assert await store.set_tenant_status(TENANT, TenantStatus.CONSENT_DENIED, T0)
    tenant = await store.get_tenant(TENANT)
    assert tenant is not None and tenant.name == "Contoso" and tenant.status is TenantStatus.CONSENT_DENIED
    assert [t.tenant_id for t in await store.list_tenants()] == [TENANT]


async def test_key_values_round_trip(store: SqlStore) -> None:
    await store.put_value("prefs", "user-1", {"tz": "Europe/Paris"})
    await store.put_value("prefs", "user-1", {"tz": "Asia/Tokyo"})
    assert await store.get_value("prefs", "user-1") == {"tz": "Asia/Tokyo"}
    assert await store.delete_value("prefs", "user-1")
    assert not await store.delete_value("prefs", "user-1")


async def test_take_is_single_use_under_concurrency(store: SqlStore) -> None:
    await store.put_value("state", "s1", {"user": "u"})
    results = await asyncio.gather(*(store.take_value("state", "s1") for _ in range(5)))
    assert [r for r in results if r is not None] == [{"user": "u"}]


async def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    from bot.platform.storage import StorageError

    with pytest.raises(StorageError, match="naive"):
        await store.remember_activity("c", "a", T0.replace(tzinfo=None))


async def test_activity_ids_remembered_together_are_new_once_each(store: SqlStore) -> None:
    await store.remember_activity("c1", "seen", T0)
    answers = await store.remember_activities([("c1", "a", T0), ("c1", "seen", T0), ("c2", "a", T0), ("c1", "a", T0)])
    assert answers == [True, False, True, False]
