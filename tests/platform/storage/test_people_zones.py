"""Looking up many people's zones at once (local-time notifications), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.platform.storage import SqlStore

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_the_zone_a_person_set_comes_before_the_one_teams_sent(store: SqlStore) -> None:
    await store.people.set_preference(TENANT, "ana", NOW, teams_zone="America/New_York")
    await store.people.set_preference(TENANT, "ana", NOW, zone="Asia/Tokyo")
    assert await store.people.zones(TENANT, ["ana"]) == {"ana": "Asia/Tokyo"}


async def test_the_zone_teams_sent_counts_when_none_was_set(store: SqlStore) -> None:
    await store.people.set_preference(TENANT, "bo", NOW, teams_zone="America/New_York")
    assert await store.people.zones(TENANT, ["bo"]) == {"bo": "America/New_York"}


async def test_people_without_a_known_zone_and_other_tenants_are_left_out(store: SqlStore) -> None:
    await store.people.set_preference(TENANT, "cy", NOW, quiet_start="20:00")
    await store.people.set_preference("another-tenant", "di", NOW, zone="Europe/Paris")
    await store.people.set_preference(TENANT, "ed", NOW, zone="Not/AZone")
    assert await store.people.zones(TENANT, ["cy", "di", "ed", "nobody"]) == {}


async def test_more_people_than_one_query_holds_are_looked_up(store: SqlStore) -> None:
    for n in range(0, 1_200, 100):
        await store.people.set_preference(TENANT, f"u{n:04d}", NOW, zone="Europe/Paris")
    found = await store.people.zones(TENANT, [f"u{n:04d}" for n in range(1_200)])
    assert len(found) == 12
