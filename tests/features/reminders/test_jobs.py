"""Reminders as a kind of the platform's job scheduler, against the real connector emulator: on time, once, in the
recipient's zone and quiet hours, late or skipped after downtime, exactly once across a crash and with two
schedulers on one database; and the Reminders feature wiring its kind into the platform's scheduler."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.features.reminders import Reminders
from bot.features.reminders.cards import ReminderCards
from bot.features.reminders.jobs import MAX_DELIVERY_ATTEMPTS, ReminderJobs
from bot.features.reminders.store import ACTIVE, Reminder, ReminderStore
from bot.platform.cards import CardRenderer
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.jobs import JobScheduler
from bot.platform.messaging.direct import DirectSender
from bot.platform.messaging.engine import StoredConversationResolver
from bot.platform.messaging.outbox import Outbox
from bot.platform.messaging.ratelimit import ConversationLimiter, TenantLimiter
from bot.platform.server import build_router
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.platform.storage import ConversationKind, ConversationRecord, SqlStore, open_store
from bot.platform.teams.connector import BotConnector
from bot.platform.turns.dispatch import Dispatcher
from bot.platform.turns.middleware import default_middleware
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.databases import drop_schema, postgres_schema_url
from tests.support.turns import USER_AAD, RecordingTurn, activity

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000e0e0e"
ANA = "aaaaaaaa-1111-4222-8333-444444444444"
BEN = "bbbbbbbb-1111-4222-8333-444444444444"
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Paris


def source(store: SqlStore, sender: DirectSender, clock: FakeClock) -> ReminderJobs:
    return ReminderJobs(store, sender, ReminderCards(CardRenderer(), "Courier"), clock=clock)


def scheduler(store: SqlStore, sender: DirectSender, clock: FakeClock) -> JobScheduler:
    """The platform's job scheduler with the reminders kind alone."""
    jobs = JobScheduler(clock=clock)
    jobs.add_source(source(store, sender, clock))
    return jobs


@dataclass
class Rig:
    store: SqlStore
    clock: FakeClock
    connector: ConnectorEmulator
    client: BotConnector
    resolver: StoredConversationResolver
    sender: DirectSender
    jobs: JobScheduler

    @property
    def reminders(self) -> ReminderStore:
        return ReminderStore(self.store)

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
        return await self.reminders.create(merged, self.clock())

    def cards(self) -> list[dict[str, Any]]:
        return [r.activity["attachments"][0]["content"] for r in self.connector.recorded]

    def texts(self) -> str:
        return " ".join(" ".join(card_texts(card)) for card in self.cards())


async def personal_chat(store: SqlStore, user: str, service_url: str) -> None:
    await store.upsert_conversation(
        ConversationRecord(f"a:{user}", TENANT, ConversationKind.PERSONAL, service_url, {}, user_aad_object_id=user)
    )


@pytest.fixture
def settings(entra: EntraEmulator, connector: ConnectorEmulator) -> Settings:
    entra.register_app(APP_ID, tenant=TENANT, secret="s")
    return Settings(
        app_id=APP_ID,
        app_password="s",
        app_tenant_id=TENANT,
        login_authority_host=entra.url,
        bot_service_url=connector.url,
        dangerously_skip_inbound_auth=True,
    )


@pytest.fixture
async def rig(tmp_path: Path, settings: Settings, connector: ConnectorEmulator, test_ca: TestCA) -> AsyncIterator[Rig]:
    async with rig_on(f"sqlite:///{tmp_path / 'courier.db'}", settings, connector, test_ca) as made:
        yield made


@pytest.fixture
async def any_rig(
    database_url: str, settings: Settings, connector: ConnectorEmulator, test_ca: TestCA
) -> AsyncIterator[Rig]:
    """The rig on SQLite and on PostgreSQL."""
    async with rig_on(database_url, settings, connector, test_ca) as made:
        yield made


@asynccontextmanager
async def rig_on(url: str, settings: Settings, connector: ConnectorEmulator, test_ca: TestCA) -> AsyncIterator[Rig]:
    client = BotConnector(MsalAppCredential(settings), ssl_context=test_ca.client_ssl_context())
    store = await open_store(url, migrations=(Reminders.migrations,))
    for user in (ANA, BEN):
        await personal_chat(store, user, connector.url)
    resolver = StoredConversationResolver(store, client, bot_id=f"28:{APP_ID}", service_url=connector.url)
    sender = DirectSender(client, resolver, TenantLimiter(1000), ConversationLimiter())
    clock = FakeClock(T0)
    yield Rig(store, clock, connector, client, resolver, sender, scheduler(store, sender, clock))
    await client.close()
    await store.close()


async def test_nothing_fires_before_it_is_due(rig: Rig) -> None:
    await rig.add()
    rig.clock.set(T0 + timedelta(minutes=29))
    assert await rig.jobs.tick() == 0
    assert rig.connector.recorded == []


async def test_a_due_reminder_fires_once_with_its_buttons(rig: Rig) -> None:
    reminder = await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    assert await rig.jobs.tick() == 1
    assert await rig.jobs.tick() == 0
    (card,) = rig.cards()
    verbs = [a["verb"] for block in card["body"] if block["type"] == "ActionSet" for a in block["actions"]]
    assert verbs == ["reminder.done", "reminder.snooze", "reminder.snooze", "reminder.tomorrow"]
    assert "Send the report" in rig.texts() and "09:30 (Europe/Paris)" in rig.texts()
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.status == "fired" and stored.fired_count == 1


async def test_a_repeating_reminder_moves_to_its_next_occurrence_at_the_same_wall_time(rig: Rig) -> None:
    paris_nine = datetime(2026, 10, 24, 7, 0, tzinfo=UTC)  # Saturday 09:00 CEST, the day before clocks go back
    reminder = await rig.add(rule="FREQ=DAILY", anchor=paris_nine, due_at=paris_nine)
    rig.clock.set(paris_nine)
    await rig.jobs.tick()
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.status == "active"
    assert stored.due_at == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 CET: one hour later in UTC


async def test_quiet_hours_hold_a_reminder_until_they_end(rig: Rig) -> None:
    await rig.store.people.set_preference(TENANT, ANA, T0, quiet_start="20:00", quiet_end="08:00")
    late_evening = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)  # 22:00 in Paris
    reminder = await rig.add(due_at=late_evening)
    rig.clock.set(late_evening)
    await rig.jobs.tick()
    assert rig.connector.recorded == []
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.due_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    rig.clock.set(stored.due_at)
    await rig.jobs.tick()
    assert len(rig.connector.recorded) == 1


async def test_the_card_that_fires_shows_the_recipients_zone_of_today_with_its_label(rig: Rig) -> None:
    # Set while Ana's zone was still UTC; she has chosen Europe/Paris since.
    await rig.add(zone="UTC")
    await rig.store.people.set_preference(TENANT, ANA, T0, zone="Europe/Paris")
    rig.clock.set(T0 + timedelta(minutes=30))
    await rig.jobs.tick()
    assert "due Tue Nov 24, 09:30 (Europe/Paris)" in rig.texts()


async def test_a_reminder_that_cannot_be_delivered_fails_after_bounded_retries_and_its_setter_is_told(
    rig: Rig,
) -> None:
    # Ben's chat is known, but its connector cannot be reached (e.g. a wrong connector URL): nothing leaves.
    await personal_chat(rig.store, BEN, "http://127.0.0.1:9/")
    reminder = await rig.add(target_user_id=BEN, target_name="Ben Ito")
    rig.clock.set(T0 + timedelta(minutes=30))
    for _ in range(MAX_DELIVERY_ATTEMPTS):
        stored = await rig.reminders.get(reminder.id)
        assert stored is not None and stored.status == "active" and rig.connector.recorded == []
        rig.clock.set(stored.due_at)
        await rig.jobs.tick()
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.status == "failed"
    (told,) = rig.connector.recorded
    assert told.conversation_id == f"a:{ANA}" and "A reminder could not be delivered" in rig.texts()
    assert "“Send the report” to Ben Ito" in rig.texts()
    rig.clock.advance(hours=1)
    assert await rig.jobs.tick() == 0  # never tried again


async def test_a_reminder_missed_while_down_fires_at_once_marked_late(rig: Rig) -> None:
    await rig.add()
    rig.clock.set(T0 + timedelta(hours=3))
    await rig.jobs.tick()
    assert "Late: this was due" in rig.texts()


async def test_a_reminder_missed_for_too_long_is_skipped_and_the_user_told(rig: Rig) -> None:
    reminder = await rig.add(rule="FREQ=DAILY", anchor=T0 + timedelta(minutes=30))
    rig.clock.set(T0 + timedelta(days=2))
    await rig.jobs.tick()
    assert "Missed reminder" in rig.texts() and "Send the report" in rig.texts()
    assert len(rig.connector.recorded) == 1  # the notice only, no stale reminder card
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.due_at > rig.clock()  # the series goes on


async def test_a_crash_after_sending_never_fires_the_occurrence_again(rig: Rig) -> None:
    reminder = await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    (claimed,) = await rig.reminders.claim_due(rig.clock(), limit=5, lease=timedelta(minutes=2))
    assert await rig.reminders.mark_sending(claimed, rig.clock())
    # ... the process dies here; a restarted scheduler recovers after the lease
    rig.clock.advance(minutes=5)
    await rig.jobs.recover()
    await rig.jobs.tick()
    assert rig.connector.recorded == []
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.status == "fired"


async def test_a_crash_before_sending_fires_it_after_restart(rig: Rig) -> None:
    await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    await rig.reminders.claim_due(rig.clock(), limit=5, lease=timedelta(minutes=2))
    rig.clock.advance(minutes=5)
    await rig.jobs.recover()
    await rig.jobs.tick()
    assert len(rig.connector.recorded) == 1


async def test_a_reminder_whose_claim_was_given_back_after_a_storage_failure_fires_once(any_rig: Rig) -> None:
    rig = any_rig
    reminder = await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    (claimed,) = await rig.reminders.claim_due(rig.clock(), limit=5, lease=timedelta(minutes=2), owner="me")
    assert await rig.reminders.release(claimed, rig.clock())
    assert await rig.jobs.tick() == 1  # right away, not after the lease
    rig.clock.advance(minutes=5)
    await rig.jobs.recover()
    await rig.jobs.tick()
    assert len(rig.connector.recorded) == 1
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.status == "fired" and stored.fired_count == 1


async def test_a_reminder_already_marked_sending_is_not_given_back(any_rig: Rig) -> None:
    rig = any_rig
    reminder = await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    (claimed,) = await rig.reminders.claim_due(rig.clock(), limit=5, lease=timedelta(minutes=2), owner="me")
    assert await rig.reminders.mark_sending(claimed, rig.clock())
    assert not await rig.reminders.release(claimed, rig.clock())
    assert await rig.reminders.release_held("me", rig.clock()) == 0
    assert await rig.jobs.tick() == 0
    rig.clock.advance(minutes=5)  # lease recovery moves it on as maybe sent, never sending it twice
    await rig.jobs.recover()
    await rig.jobs.tick()
    assert rig.connector.recorded == []
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.status == "fired"


async def test_only_the_claims_of_the_given_owner_are_given_back(any_rig: Rig) -> None:
    rig = any_rig
    mine, theirs = await rig.add(text="Mine"), await rig.add(text="Theirs")
    rig.clock.set(T0 + timedelta(minutes=30))
    await rig.reminders.claim_due(rig.clock(), limit=1, lease=timedelta(minutes=2), owner="me")
    await rig.reminders.claim_due(rig.clock(), limit=1, lease=timedelta(minutes=2), owner="another replica")
    assert await rig.reminders.release_held("me", rig.clock()) == 1
    statuses = {r.text: r.status for r in [await rig.reminders.get(x.id) for x in (mine, theirs)] if r}
    assert sorted(statuses.values()) == ["active", "firing"]


async def test_a_restarted_scheduler_fires_a_reminder_whose_claim_answer_was_lost(any_rig: Rig) -> None:
    rig = any_rig
    await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    # the claim committed but its answer was lost with the connection (a database outage); the loop restarts
    await rig.reminders.claim_due(rig.clock(), limit=5, lease=timedelta(minutes=2), owner=rig.jobs.owner)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.jobs.run(stop))
    arrived = await rig.connector.wait_for_async(lambda r: len(r) >= 1, within=5)  # the clock stands still
    stop.set()
    await task
    assert len(arrived) == 1


async def test_reminders_of_someone_uninstalled_past_their_grace_are_purged(rig: Rig) -> None:
    reminder = await rig.add()
    await rig.reminders.suspend_for_user(TENANT, ANA, rig.clock(), grace=timedelta(days=7))
    rig.clock.advance(days=8)
    await rig.jobs.recover()  # start-up recovery runs the kinds' housekeeping too
    assert await rig.reminders.get(reminder.id) is None


async def test_a_reminder_for_someone_else_tells_the_setter_it_was_delivered(rig: Rig) -> None:
    await rig.add(target_user_id=BEN, target_name="Ben Ito")
    rig.clock.set(T0 + timedelta(minutes=30))
    await rig.jobs.tick()
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
    rig.clock.set(T0 + timedelta(minutes=30))
    await rig.jobs.tick()
    stored = await rig.reminders.get(reminder.id)
    assert stored is not None and stored.status == "disabled"
    assert "its chat or channel is gone" in rig.texts()


async def test_the_running_scheduler_wakes_for_a_reminder_that_falls_due(rig: Rig) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(rig.jobs.run(stop))
    await rig.jobs.ready.wait()
    await rig.add(due_at=rig.clock() + timedelta(minutes=1))
    rig.clock.advance(minutes=1)
    rig.jobs.wake()  # as the handlers do; unwoken, the scheduler would sleep its 30 s
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
        rig.clock.set(T0 + timedelta(hours=1))
        rig.connector.enforce_limits = False  # Teams' per-chat windows are not what this test is about
        roomy = DirectSender(rig.client, rig.resolver, TenantLimiter(1000), ConversationLimiter(windows=((1000, 1.0),)))
        a, b = scheduler(first, roomy, rig.clock), scheduler(second, roomy, rig.clock)
        while sum(await asyncio.gather(a.tick(), b.tick())):
            pass
        sent = [r.activity["attachments"][0]["content"] for r in rig.connector.recorded]
        assert len(sent) == 60
        assert {next(t for t in card_texts(card) if t.startswith("Reminder ")) for card in sent} == {
            f"Reminder {n}" for n in range(60)
        }
        await first.close()
        await second.close()
    finally:
        await drop_schema(schema)


# -- the feature, wired as the server wires it -------------------------------------------------------------------
class CountingJobs(JobScheduler):
    """The platform's scheduler, counting how often handlers wake it."""

    wakes = 0

    def wake(self) -> None:
        self.wakes += 1
        super().wake()


async def test_a_reminder_set_in_chat_wakes_the_scheduler_and_fires_through_the_outbox(
    tmp_path: Path, settings: Settings, connector: ConnectorEmulator, test_ca: TestCA
) -> None:
    clock = FakeClock(T0)
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}", migrations=(Reminders.migrations,))
    await personal_chat(store, USER_AAD, connector.url)
    client = BotConnector(MsalAppCredential(settings), ssl_context=test_ca.client_ssl_context())
    outbox = Outbox(settings, store, credential=None, graph=None, clock=clock, connector=client)
    jobs = CountingJobs(clock=clock)
    jobs.use_table(store.db)
    services = Services(settings, store, CardRenderer(), clock=clock, jobs=jobs, outbox=outbox)
    router = build_router(services, (Reminders,))
    turn = RecordingTurn.of(
        activity("message", text="remind me in 20 minutes to call Ana", localTimezone="Europe/Paris")
    )
    await Dispatcher(router, default_middleware(services), services.cards).handle(turn)
    assert jobs.wakes == 1
    clock.advance(minutes=20)
    assert await jobs.tick() == 1
    (sent,) = connector.recorded
    assert sent.conversation_id == f"a:{USER_AAD}" and "call Ana" in card_texts(sent.activity["attachments"][0])
    await client.close()
    await store.close()


async def test_a_reminder_fires_in_the_language_teams_last_sent_for_its_recipient(rig: Rig) -> None:
    await rig.store.people.set_preference(TENANT, ANA, T0, locale="de-DE")
    await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    await rig.jobs.tick()
    (card,) = rig.cards()
    titles = [a["title"] for block in card["body"] if block["type"] == "ActionSet" for a in block["actions"]]
    assert titles == ["Erledigt", "15 Min. später", "1 Std. später", "Morgen 9:00"]
    assert "fällig Di., 24. Nov., 09:30 (Europe/Paris)" in rig.texts()


async def test_a_reminder_for_someone_courier_never_heard_from_fires_in_english(rig: Rig) -> None:
    await rig.add()
    rig.clock.set(T0 + timedelta(minutes=30))
    await rig.jobs.tick()
    assert "Done" in rig.texts() and "due Tue Nov 24, 09:30 (Europe/Paris)" in rig.texts()
