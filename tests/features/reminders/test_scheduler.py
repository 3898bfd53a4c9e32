"""The scheduler against the real connector emulator: on time, once, in the recipient's zone and quiet hours,
late or skipped after downtime, and exactly once with two schedulers on one database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.features.reminders import Reminders
from bot.features.reminders.scheduler import ReminderScheduler, in_quiet_hours
from bot.features.reminders.store import ACTIVE, Reminder, ReminderStore
from bot.platform.cards import CardRenderer
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.messaging.direct import DirectSender
from bot.platform.messaging.engine import StoredConversationResolver
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter
from bot.platform.settings import Settings
from bot.platform.storage import ConversationKind, ConversationRecord, SqlStore, open_store
from bot.platform.teams.connector import BotConnector
from tests.emulators.connector import ConnectorEmulator
from tests.emulators.entra import EntraEmulator
from tests.emulators.tls import TestCA
from tests.support.databases import drop_schema, postgres_schema_url

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000e0e0e"
ANA = "aaaaaaaa-1111-4222-8333-444444444444"
BEN = "bbbbbbbb-1111-4222-8333-444444444444"
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 09:00 in Paris


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    store: SqlStore
    clock: Clock
    connector: ConnectorEmulator
    sender: DirectSender
    scheduler: ReminderScheduler

    def another_scheduler(self, store: SqlStore, sender: DirectSender | None = None) -> ReminderScheduler:
        return ReminderScheduler(store, sender or self.sender, CardRenderer(), clock=self.clock)

    async def add(self, **changes: Any) -> Reminder:
        base = Reminder(
            id="",
            tenant_id=TENANT,
            creator_id=ANA,
            creator_name="Ana Diaz",
            target_kind="user",
            target_user_id=ANA,
            target_name=None,
            conversation_id=None,
            origin_conversation_id=f"a:{ANA}",
            text="Send the report",
            source_link=None,
            zone="Europe/Paris",
            rule=None,
            anchor=None,
            due_at=T0 + timedelta(minutes=30),
            occurrence_at=T0 + timedelta(minutes=30),
            status=ACTIVE,
        )
        merged = replace(base, **changes)
        if "due_at" in changes and "occurrence_at" not in changes:
            merged = replace(merged, occurrence_at=merged.due_at)
        return await ReminderStore(self.store.db).create(merged, self.clock())

    def cards(self) -> list[dict[str, Any]]:
        return [r.activity["attachments"][0]["content"] for r in self.connector.recorded]

    def texts(self) -> str:
        return json.dumps(self.cards(), ensure_ascii=False)


async def personal_chat(store: SqlStore, user: str, service_url: str) -> None:
    await store.upsert_conversation(
        ConversationRecord(f"a:{user}", TENANT, ConversationKind.PERSONAL, service_url, {}, user_aad_object_id=user)
    )


@pytest.fixture
async def rig(
    tmp_path: Path, entra: EntraEmulator, connector: ConnectorEmulator, test_ca: TestCA
) -> AsyncIterator[Rig]:
    entra.register_app(APP_ID, tenant=TENANT, secret="s")
    credential = MsalAppCredential(
        Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    )
    client = BotConnector(credential, ssl_context=test_ca.client_ssl_context())
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}", migrations=(Reminders.migrations,))
    for user in (ANA, BEN):
        await personal_chat(store, user, connector.url)
    resolver = StoredConversationResolver(store, client, bot_id=f"28:{APP_ID}", service_url=connector.url)
    sender = DirectSender(client, resolver, TenantLimiter(1000), ConversationLimiter())
    clock = Clock()
    yield Rig(store, clock, connector, sender, ReminderScheduler(store, sender, CardRenderer(), clock=clock))
    await client.close()
    await store.close()


async def test_nothing_fires_before_it_is_due(rig: Rig) -> None:
    await rig.add()
    rig.clock.now = T0 + timedelta(minutes=29)
    assert await rig.scheduler.tick() == 0
    assert rig.connector.recorded == []


async def test_a_due_reminder_fires_once_with_its_buttons(rig: Rig) -> None:
    reminder = await rig.add()
    rig.clock.now = T0 + timedelta(minutes=30)
    assert await rig.scheduler.tick() == 1
    assert await rig.scheduler.tick() == 0
    (card,) = rig.cards()
    verbs = [a["verb"] for block in card["body"] if block["type"] == "ActionSet" for a in block["actions"]]
    assert verbs == ["reminder.done", "reminder.snooze", "reminder.snooze", "reminder.tomorrow"]
    assert "Send the report" in rig.texts() and "09:30 (Europe/Paris)" in rig.texts()
    stored = await ReminderStore(rig.store.db).get(reminder.id)
    assert stored is not None and stored.status == "fired" and stored.fired_count == 1


async def test_a_repeating_reminder_moves_to_its_next_occurrence_at_the_same_wall_time(rig: Rig) -> None:
    paris_nine = datetime(2026, 10, 24, 7, 0, tzinfo=UTC)  # Saturday 09:00 CEST, the day before clocks go back
    reminder = await rig.add(rule="FREQ=DAILY", anchor=paris_nine, due_at=paris_nine)
    rig.clock.now = paris_nine
    await rig.scheduler.tick()
    stored = await ReminderStore(rig.store.db).get(reminder.id)
    assert stored is not None and stored.status == "active"
    assert stored.due_at == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 CET: one hour later in UTC


async def test_quiet_hours_hold_a_reminder_until_they_end(rig: Rig) -> None:
    await rig.store.people.set_preference(TENANT, ANA, T0, quiet_start="20:00", quiet_end="08:00")
    late_evening = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)  # 22:00 in Paris
    reminder = await rig.add(due_at=late_evening)
    rig.clock.now = late_evening
    await rig.scheduler.tick()
    assert rig.connector.recorded == []
    stored = await ReminderStore(rig.store.db).get(reminder.id)
    assert stored is not None and stored.due_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    rig.clock.now = stored.due_at
    await rig.scheduler.tick()
    assert len(rig.connector.recorded) == 1


def test_quiet_hours_that_do_not_span_midnight() -> None:
    assert in_quiet_hours(datetime(2026, 11, 24, 13, 0), "12:00", "14:00") == datetime(2026, 11, 24, 14, 0)
    assert in_quiet_hours(datetime(2026, 11, 24, 15, 0), "12:00", "14:00") is None


async def test_a_reminder_missed_while_down_fires_at_once_marked_late(rig: Rig) -> None:
    await rig.add()
    rig.clock.now = T0 + timedelta(hours=3)
    await rig.scheduler.tick()
    assert "Late: this was due" in rig.texts()


async def test_a_reminder_missed_for_too_long_is_skipped_and_the_user_told(rig: Rig) -> None:
    reminder = await rig.add(rule="FREQ=DAILY", anchor=T0 + timedelta(minutes=30))
    rig.clock.now = T0 + timedelta(days=2)
    await rig.scheduler.tick()
    assert "Missed reminder" in rig.texts() and "Send the report" in rig.texts()
    assert len(rig.connector.recorded) == 1  # the notice only, no stale reminder card
    stored = await ReminderStore(rig.store.db).get(reminder.id)
    assert stored is not None and stored.due_at > rig.clock.now  # the series goes on


async def test_a_crash_after_sending_never_fires_the_occurrence_again(rig: Rig) -> None:
    reminder = await rig.add()
    rig.clock.now = T0 + timedelta(minutes=30)
    (claimed,) = await ReminderStore(rig.store.db).claim_due(rig.clock.now, limit=5, lease=timedelta(minutes=2))
    assert await ReminderStore(rig.store.db).mark_sending(claimed, rig.clock.now)
    # ... the process dies here; a restarted scheduler recovers after the lease
    rig.clock.now += timedelta(minutes=5)
    await rig.scheduler.recover()
    await rig.scheduler.tick()
    assert rig.connector.recorded == []
    stored = await ReminderStore(rig.store.db).get(reminder.id)
    assert stored is not None and stored.status == "fired"


async def test_a_crash_before_sending_fires_it_after_restart(rig: Rig) -> None:
    await rig.add()
    rig.clock.now = T0 + timedelta(minutes=30)
    await ReminderStore(rig.store.db).claim_due(rig.clock.now, limit=5, lease=timedelta(minutes=2))
    rig.clock.now += timedelta(minutes=5)
    await rig.scheduler.recover()
    await rig.scheduler.tick()
    assert len(rig.connector.recorded) == 1


async def test_a_reminder_for_someone_else_tells_the_setter_it_was_delivered(rig: Rig) -> None:
    await rig.add(target_user_id=BEN, target_name="Ben Ito")
    rig.clock.now = T0 + timedelta(minutes=30)
    await rig.scheduler.tick()
    to_ben = [r for r in rig.connector.recorded if r.conversation_id == f"a:{BEN}"]
    to_ana = [r for r in rig.connector.recorded if r.conversation_id == f"a:{ANA}"]
    assert len(to_ben) == 1 and "From Ana Diaz" in json.dumps(to_ben[0].activity)
    assert len(to_ana) == 1 and "Delivered your reminder to Ben Ito" in json.dumps(to_ana[0].activity)


async def test_a_channel_reminder_whose_channel_is_gone_is_turned_off_and_its_creator_told(rig: Rig) -> None:
    channel = "19:gone@thread.tacv2"
    await rig.store.upsert_conversation(
        ConversationRecord(
            channel, TENANT, ConversationKind.CHANNEL, rig.connector.url, {}, team_id="19:t", channel_id=channel
        )
    )
    rig.connector.uninstalled.add(channel)
    reminder = await rig.add(target_kind="conversation", target_user_id=None, conversation_id=channel)
    rig.clock.now = T0 + timedelta(minutes=30)
    await rig.scheduler.tick()
    stored = await ReminderStore(rig.store.db).get(reminder.id)
    assert stored is not None and stored.status == "disabled"
    assert "its chat or channel is gone" in rig.texts()


async def test_the_running_scheduler_sleeps_until_the_next_due_and_wakes_for_new_ones(rig: Rig) -> None:
    real = ReminderScheduler(rig.store, rig.sender, CardRenderer(), clock=lambda: datetime.now(UTC))
    stop = asyncio.Event()
    task = asyncio.create_task(real.run(stop))
    await real.ready.wait()
    await rig.add(due_at=datetime.now(UTC) + timedelta(milliseconds=300))
    real.wake()  # as the remind command does
    arrived = await rig.connector.wait_for_async(lambda r: len(r) >= 1, within=5)
    assert len(arrived) == 1
    stop.set()
    await task


@pytest.mark.postgres
async def test_two_schedulers_on_one_postgresql_fire_each_reminder_once(rig: Rig) -> None:
    url, schema = await postgres_schema_url()
    try:
        first, second = (
            await open_store(url, migrations=(Reminders.migrations,)),
            await open_store(url, migrations=(Reminders.migrations,)),
        )
        for user in (ANA, BEN):
            await personal_chat(first, user, rig.connector.url)
        rig.store = first
        for n in range(60):
            await rig.add(text=f"Reminder {n}", due_at=T0 + timedelta(minutes=30, seconds=n % 7))
        rig.clock.now = T0 + timedelta(hours=1)
        rig.connector.enforce_limits = False  # Teams' per-chat windows are not what this test is about
        roomy = DirectSender(
            rig.sender._connector,
            rig.sender._resolver,
            TenantLimiter(1000),
            ConversationLimiter(windows=((1000, 1.0),)),
        )
        a, b = rig.another_scheduler(first, roomy), rig.another_scheduler(second, roomy)
        while await asyncio.gather(a.tick(), b.tick()) != [0, 0]:
            pass
        sent = [json.dumps(r.activity) for r in rig.connector.recorded]
        assert len(sent) == 60
        assert len({next(t for t in range(60) if f'"Reminder {t}"' in s) for s in sent}) == 60
        await first.close()
        await second.close()
    finally:
        await drop_schema(schema)


async def test_a_scheduled_post_of_another_kind_is_drawn_by_its_card_maker(rig: Rig) -> None:
    async def digest(reminder: Reminder) -> dict[str, Any]:
        return {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": f"Digest for {reminder.id}"}],
        }

    scheduler = ReminderScheduler(
        rig.store, rig.sender, CardRenderer(), clock=rig.clock, card_makers={"insights_digest": digest}
    )
    reminder = await rig.add(kind="insights_digest")
    rig.clock.now = T0 + timedelta(minutes=30)
    await scheduler.tick()
    assert f"Digest for {reminder.id}" in rig.texts()
