"""The reminder scheduler: sleeps until the next reminder is due (or until told a new one exists), then fires.

No polling loop spins: it waits on the earliest ``due_at`` in storage, a wake-up event, or at most ``max_sleep``
(so a reminder written by another replica is seen within that bound). Each due reminder is claimed atomically,
checked against the recipient's quiet hours and its lateness, marked *sending*, sent through the outreach
sender (same conversations, same rate limits), then moved to its next occurrence or marked fired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.features.reminders.recurrence import next_occurrence
from bot.features.reminders.store import ACTIVE, DISABLED, FIRED, MISSED, Reminder, ReminderStore
from bot.platform.cards import CardRenderer, card_attachment
from bot.platform.messaging.direct import Cancelled, Sent
from bot.platform.messaging.engine import NotInstalled
from bot.platform.storage.base import Store
from bot.platform.teams.connector import ConnectorFailure, FailureKind
from bot.platform.time import localize
from bot.platform.waiting import first_of

logger = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=60)


class Sender(Protocol):
    async def send(
        self,
        tenant_id: str,
        recipient: dict[str, Any],
        activity: dict[str, Any],
        *,
        before_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> Sent: ...

    def pause(self, tenant_id: str, seconds: float) -> None: ...


def in_quiet_hours(local: datetime, start: str | None, end: str | None) -> datetime | None:
    """If ``local`` falls in the quiet window "start-end" (may span midnight), the local time it ends; else None."""
    if not start or not end:
        return None
    begin, finish = time.fromisoformat(start), time.fromisoformat(end)
    now = local.time().replace(second=0, microsecond=0)
    if begin == finish:
        return None
    spans_midnight = begin > finish
    inside = (begin <= now or now < finish) if spans_midnight else (begin <= now < finish)
    if not inside:
        return None
    end_day = local.date()
    if spans_midnight and now >= begin:
        end_day = end_day + timedelta(days=1)
    return datetime.combine(end_day, finish)


def describe(when: datetime, zone: str, *, now: datetime | None = None) -> str:
    local = when.astimezone(ZoneInfo(zone))
    if now is not None and local.date() == now.astimezone(ZoneInfo(zone)).date():
        return f"today {local:%H:%M}"
    return f"{local:%a %b %d, %H:%M}"


class ReminderScheduler:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        cards: CardRenderer,
        *,
        clock: Callable[[], datetime],
        app_name: str = "Courier",
        max_lateness: timedelta = timedelta(hours=24),
        lease: timedelta = timedelta(minutes=2),
        batch_size: int = 200,
        concurrency: int = 32,
        max_sleep: float = 30.0,
        card_makers: Mapping[str, Callable[[Reminder], Awaitable[dict[str, Any]]]] | None = None,
    ) -> None:
        self._reminders = ReminderStore(store.db)
        self._people = store.people
        self._sender = sender
        self._cards = cards
        self._clock = clock
        self._app = app_name
        self._max_lateness = max_lateness
        self._lease = lease
        self._batch = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._max_sleep = max_sleep
        self._card_makers = card_makers if card_makers is not None else {}
        self._wake = asyncio.Event()
        self.ready = asyncio.Event()
        self.on_fired: Callable[[Reminder], None] | None = None  # after each card left (benchmarks, metrics)

    def wake(self) -> None:
        """A reminder was created or changed: look again now."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Fire reminders as they fall due until ``stop``; a pipeline, not batches: a reminder that falls due while
        others are being sent is claimed as soon as a sender is free."""
        await self.recover()
        self.ready.set()
        purged_at = self._clock()
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            self._wake.clear()
            if self._clock() - purged_at > timedelta(hours=1):  # uninstalled users' reminders past their grace
                purged_at = self._clock()
                await self._reminders.purge_suspended(purged_at)
            free = self._concurrency - len(tasks)
            if free <= 0:
                await asyncio.wait(set(tasks), return_when=asyncio.FIRST_COMPLETED)
                continue
            claimed = await self._reminders.claim_due(self._clock(), limit=min(free, self._batch), lease=self._lease)
            for reminder in claimed:
                task = asyncio.create_task(self._guarded(reminder))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if claimed:
                await asyncio.sleep(0)  # let the new senders start before looking again
                continue
            next_due = await self._reminders.next_due()
            wait = self._max_sleep
            if next_due is not None:
                wait = min(wait, max(0.0, (next_due - self._clock()).total_seconds()))
            if wait <= 0:
                await asyncio.sleep(0.001)  # due but claimed by another replica: give it a moment
                continue
            await first_of(self._wake, stop, timeout=wait)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def recover(self) -> None:
        now = self._clock()
        requeued, maybe_sent = await self._reminders.recover(now)
        for reminder in maybe_sent:  # the card may have left before the crash: move on, never fire it twice
            await self._advance(reminder, now, fired=True, activity_id=None)
        if requeued or maybe_sent:
            logger.warning("reminders recovered after a stop: %d requeued, %d moved on", requeued, len(maybe_sent))
        await self._reminders.purge_suspended(now)

    async def tick(self) -> int:
        """Fire everything due now; returns how many were handled."""
        claimed = await self._reminders.claim_due(self._clock(), limit=self._batch, lease=self._lease)
        if not claimed:
            return 0
        await asyncio.gather(*(self._guarded(r) for r in claimed))
        return len(claimed)

    async def _guarded(self, reminder: Reminder) -> None:
        async with self._slots:
            try:
                await self.fire(reminder)
            except Exception:
                logger.exception("a reminder failed to fire; it is retried when its claim expires")

    async def fire(self, reminder: Reminder) -> None:
        now = self._clock()
        zone = ZoneInfo(reminder.zone)
        prefs = (
            await self._people.preferences(reminder.tenant_id, reminder.target_user_id)
            if reminder.target_kind == "user" and reminder.target_user_id
            else None
        )
        if prefs is not None:
            quiet_end = in_quiet_hours(now.astimezone(zone).replace(tzinfo=None), prefs.quiet_start, prefs.quiet_end)
            if quiet_end is not None:
                await self._reminders.finish(reminder, now, status=ACTIVE, due_at=localize(quiet_end, zone))
                logger.info("reminder held until the end of quiet hours")
                return
        lateness = now - reminder.occurrence_at
        if lateness > self._max_lateness:
            await self._tell_missed(reminder)
            await self._advance(reminder, now, fired=False, activity_id=None)
            return
        late = None
        if lateness > LATE_AFTER:
            late = (
                f"Late: this was due {describe(reminder.occurrence_at, reminder.zone)} while {self._app} was offline."
            )
        maker = self._card_makers.get(reminder.kind) if reminder.kind != "reminder" else None
        if maker is not None:
            card = await maker(reminder)
            activity = {"type": "message", "summary": reminder.text[:100], "attachments": [card_attachment(card)]}
        else:
            activity = self._activity(reminder, late)
        recipient = (
            {"userId": reminder.target_user_id}
            if reminder.target_kind == "user"
            else {"conversationId": reminder.conversation_id}
        )

        async def mark() -> bool:
            return await self._reminders.mark_sending(reminder, self._clock())

        try:
            sent = await self._sender.send(reminder.tenant_id, recipient, activity, before_send=mark)
        except Cancelled:
            return
        except NotInstalled as exc:
            await self._reminders.finish(reminder, self._clock(), status=DISABLED)
            await self._tell_creator(reminder, f"I couldn't deliver your reminder ({exc.reason}); it is now off.")
            return
        except ConnectorFailure as failure:
            await self._failed(reminder, failure)
            return
        if self.on_fired is not None:
            self.on_fired(reminder)
        await self._advance(reminder, self._clock(), fired=True, activity_id=sent.activity_id)
        if (
            reminder.fired_count == 0
            and reminder.target_kind == "user"
            and reminder.creator_id != reminder.target_user_id
        ):
            who = reminder.target_name or "them"
            await self._tell_creator(reminder, f"Delivered your reminder to {who}: {reminder.text[:120]}")

    async def _failed(self, reminder: Reminder, failure: ConnectorFailure) -> None:
        now = self._clock()
        if failure.kind in (FailureKind.RETRY, FailureKind.NOT_SENT):
            if failure.status == 429:
                self._sender.pause(reminder.tenant_id, failure.retry_after or 1.0)
            retry = now + timedelta(seconds=failure.retry_after or 5.0)
            await self._reminders.finish(reminder, now, status=ACTIVE, due_at=retry)
            return
        if failure.kind is FailureKind.MAYBE_DELIVERED:
            await self._advance(reminder, now, fired=True, activity_id=None)
            return
        await self._reminders.finish(reminder, now, status=DISABLED)
        where = "its chat or channel is gone" if reminder.target_kind == "conversation" else failure.reason
        await self._tell_creator(reminder, f"Your reminder \u201c{reminder.text[:80]}\u201d is off: {where}.")

    async def _advance(self, reminder: Reminder, now: datetime, *, fired: bool, activity_id: str | None) -> None:
        if reminder.rule and reminder.anchor:
            after = max(now, reminder.occurrence_at)
            upcoming = next_occurrence(reminder.rule, first=reminder.anchor, after=after, zone=ZoneInfo(reminder.zone))
            if upcoming is not None:
                await self._reminders.finish(
                    reminder,
                    now,
                    status=ACTIVE,
                    due_at=upcoming,
                    occurrence_at=upcoming,
                    fired=fired,
                    activity_id=activity_id,
                )
                return
        await self._reminders.finish(
            reminder, now, status=FIRED if fired else MISSED, fired=fired, activity_id=activity_id
        )

    def _activity(self, reminder: Reminder, late: str | None) -> dict[str, Any]:
        setter = ""
        if reminder.target_kind == "user" and reminder.creator_id != reminder.target_user_id:
            setter = f"From {reminder.creator_name or 'a colleague'} · "
        repeat = " · repeats" if reminder.rule else ""
        card = self._cards.render(
            "reminder",
            {
                "app_name": self._app,
                "subtitle": f"{setter}due {describe(reminder.occurrence_at, reminder.zone)} ({reminder.zone}){repeat}",
                "text": reminder.text,
                "late": late,
                "link": reminder.source_link,
                "status_text": None,
                "actions": True,
                "reminder_id": reminder.id,
            },
        )
        return {
            "type": "message",
            "summary": f"Reminder: {reminder.text[:100]}",
            "attachments": [card_attachment(card)],
        }

    async def _notice(self, reminder: Reminder, conversation: dict[str, Any], title: str, text: str) -> None:
        card = self._cards.render("notice", {"app_name": self._app, "title": title, "text": text})
        activity = {"type": "message", "summary": title, "attachments": [card_attachment(card)]}
        with contextlib.suppress(NotInstalled, ConnectorFailure, Cancelled):
            await self._sender.send(reminder.tenant_id, conversation, activity)

    async def _tell_creator(self, reminder: Reminder, text: str) -> None:
        target = (
            {"conversationId": reminder.origin_conversation_id}
            if reminder.origin_conversation_id
            else {"userId": reminder.creator_id}
        )
        await self._notice(reminder, target, "About your reminder", text)

    async def _tell_missed(self, reminder: Reminder) -> None:
        target = (
            {"userId": reminder.target_user_id}
            if reminder.target_kind == "user"
            else {"conversationId": reminder.conversation_id}
        )
        due = describe(reminder.occurrence_at, reminder.zone)
        await self._notice(
            reminder,
            target,
            "Missed reminder",
            f"\u201c{reminder.text[:200]}\u201d was due {due} while {self._app} was offline for too long, so it was "
            "skipped." + (" The next one is scheduled as usual." if reminder.rule else ""),
        )
