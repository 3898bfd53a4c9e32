"""Migration 0010: the weekly digests that rode on the reminders table become plain jobs of the platform scheduler,
on SQLite and PostgreSQL alike; reminders stay, and only rows of the reminder kind are ever claimed.

A database from before 0010 is made the way one was: migrated without 0010, with its rows written by an SQL file
the migration runner applies (the reminders store no longer writes a ``kind``)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.features.reminders import Reminders
from bot.features.reminders.store import ReminderStore
from bot.platform.jobs import JobScheduler
from bot.platform.storage import SqlStore, open_store
from bot.platform.storage.times import to_db_time
from tests.support.clock import DEFAULT_NOW, FakeClock

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHANNEL = "19:sales@thread.tacv2"
QUIET_CHANNEL = "19:quiet@thread.tacv2"
DUE = DEFAULT_NOW + timedelta(days=6)
LEGACY_VERSION = 9000  # after every real migration, so the rows are written once the kind column exists


def _row(row_id: str, *, kind: str, status: str, conversation: str | None, target: str) -> str:
    due, made = to_db_time(DUE), to_db_time(DEFAULT_NOW - timedelta(days=30))
    conversation_sql = f"'{conversation}'" if conversation else "NULL"
    user_sql = "NULL" if conversation else "'ana'"
    return (
        "INSERT INTO reminders (id, tenant_id, creator_id, target_kind, target_user_id, conversation_id, text, zone, "
        f"rule, due_at, occurrence_at, status, created_at, updated_at, kind) VALUES ('{row_id}', '{TENANT}', 'ana', "
        f"'{target}', {user_sql}, {conversation_sql}, 'Weekly insights digest', "
        f"'Europe/Paris', 'FREQ=WEEKLY;BYDAY=MO', '{due}', '{due}', '{status}', '{made}', '{made}', '{kind}');\n"
    )


LEGACY_ROWS = (
    _row("digest-on", kind="insights_digest", status="active", conversation=CHANNEL, target="conversation")
    + _row("digest-off", kind="insights_digest", status="cancelled", conversation=QUIET_CHANNEL, target="conversation")
    + _row("plain", kind="reminder", status="active", conversation=None, target="user")
    + _row("unknown", kind="someday", status="active", conversation=None, target="user")
)


@pytest.fixture
async def migrated(database_url: str, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A database with digest rows in ``reminders`` as before 0010, then opened with every migration."""
    before, legacy = tmp_path / "before-0010", tmp_path / "legacy"
    before.mkdir()
    legacy.mkdir()
    for path in Reminders.migrations.glob("*.sql"):
        if not path.name.startswith("0010_"):
            shutil.copy(path, before / path.name)
    (legacy / f"{LEGACY_VERSION}_legacy_rows.sql").write_text(LEGACY_ROWS, encoding="utf-8")
    old = await open_store(database_url, migrations=(before, legacy))
    await old.close()
    store = await open_store(database_url, migrations=(Reminders.migrations,))
    yield store
    await store.close()


def jobs_of(store: SqlStore) -> JobScheduler:
    jobs = JobScheduler(clock=FakeClock())
    jobs.use_table(store.db)
    return jobs


async def test_a_digest_that_is_on_becomes_a_job_of_its_channel(migrated: SqlStore) -> None:
    job = await jobs_of(migrated).get("insights.digest", CHANNEL)
    assert job is not None
    assert (job.tenant_id, job.due_at, job.payload, job.attempts) == (TENANT, DUE, {"zone": "Europe/Paris"}, 0)


async def test_a_digest_that_was_turned_off_does_not_come_back(migrated: SqlStore) -> None:
    assert await jobs_of(migrated).get("insights.digest", QUIET_CHANNEL) is None


async def test_digest_rows_leave_the_reminders_and_reminders_stay(migrated: SqlStore) -> None:
    reminders = ReminderStore(migrated)
    assert await reminders.get("digest-on") is None and await reminders.get("digest-off") is None
    kept = await reminders.get("plain")
    assert kept is not None and kept.status == "active"


async def test_only_rows_of_the_reminder_kind_are_due_and_claimed(migrated: SqlStore) -> None:
    reminders = ReminderStore(migrated)
    claimed = await reminders.claim_due(DUE, limit=10, lease=timedelta(minutes=2))
    assert [r.id for r in claimed] == ["plain"]
    assert await reminders.next_due() is None  # the other kind's row is not waited for
