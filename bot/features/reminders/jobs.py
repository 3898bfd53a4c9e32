"""Reminders as a kind of the platform's job scheduler (:class:`bot.platform.jobs.JobSource`).

The scheduler sleeps until the earliest due reminder (or until woken after one was set or changed), claims due rows
with a lease and hands each to :meth:`ReminderJobs.run`, which checks the recipient's quiet hours and the lateness,
marks the row *sending* (committed) right before the card leaves through the outbox's direct lane (same
conversations, same rate limits), then moves a repeating reminder to its next occurrence or marks a one-off fired.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.features.reminders.cards import ReminderCards, from_someone_else
from bot.features.reminders.recurrence import next_occurrence
from bot.features.reminders.service import in_quiet_hours
from bot.features.reminders.store import ACTIVE, DISABLED, FAILED, FIRED, MISSED, Reminder, ReminderStore
from bot.platform import i18n
from bot.platform.cards import card_attachment
from bot.platform.i18n import N_, _
from bot.platform.messaging.direct import Cancelled, Sent
from bot.platform.messaging.engine import NotInstalled
from bot.platform.storage.base import Store
from bot.platform.teams.connector import ConnectorFailure, FailureKind
from bot.platform.time import format_time, localize, valid_zone

logger = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=60)
MAX_DELIVERY_ATTEMPTS = 6  # then the reminder is marked failed and its setter told (about 2.5 minutes of tries)
FIRST_RETRY_SECONDS = 5.0


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


def recipient_of(reminder: Reminder) -> dict[str, Any]:
    if reminder.target_kind == "user":
        return {"userId": reminder.target_user_id}
    return {"conversationId": reminder.conversation_id}


def _message(card: dict[str, Any], summary: str) -> dict[str, Any]:
    return {"type": "message", "summary": summary, "attachments": [card_attachment(card)]}


class ReminderJobs:
    """The ``reminders`` job kind: its jobs are the due rows of the reminders table."""

    name = "reminders"

    def __init__(
        self,
        store: Store,
        sender: Sender,
        cards: ReminderCards,
        *,
        clock: Callable[[], datetime],
        app_name: str = "Courier",
        max_lateness: timedelta = timedelta(hours=24),
    ) -> None:
        self._reminders = ReminderStore(store)
        self._store = store
        self._sender = sender
        self._cards = cards
        self._clock = clock
        self._app = app_name
        self._max_lateness = max_lateness
        self.on_fired: Callable[[Reminder], None] | None = None  # after each card left (benchmarks, metrics)

    # -- JobSource ---------------------------------------------------------------------------------------
    async def next_due(self) -> datetime | None:
        return await self._reminders.next_due()

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str = "") -> list[Reminder]:
        return await self._reminders.claim_due(now, limit=limit, lease=lease, owner=owner)

    async def run(self, job: Reminder) -> None:
        with i18n.using(await self._reader_locale(job)):  # the card speaks its reader's language
            await self.fire(job)

    async def _reader_locale(self, reminder: Reminder) -> str | None:
        """The locale Teams last sent for whoever reads it: the person it is for, else (a chat or channel) its
        setter."""
        reader = reminder.target_user_id if reminder.target_kind == "user" else reminder.creator_id
        return await self._store.people.locale(reminder.tenant_id, reader or "")

    async def recover(self, now: datetime) -> None:
        """Expired claims: never sent -> waiting again; maybe sent -> moved on, never fired twice."""
        requeued, maybe_sent = await self._reminders.recover(now)
        for reminder in maybe_sent:
            await self._advance(reminder, now, fired=True, activity_id=None)
        if requeued or maybe_sent:
            logger.warning("reminders recovered after a stop: %d requeued, %d moved on", requeued, len(maybe_sent))

    async def release(self, job: Reminder, now: datetime) -> bool:
        """A claim left by a storage failure, given back unless the reminder was marked *sending* (it may have left:
        lease recovery moves it on, never sending it twice)."""
        return await self._reminders.release(job, now)

    async def release_held(self, owner: str, now: datetime) -> int:
        released = await self._reminders.release_held(owner, now)
        if released:
            logger.warning("%d reminder claims given back after a storage failure", released)
        return released

    async def housekeeping(self, now: datetime) -> None:
        """Uninstalled people's reminders past their grace period go."""
        purged = await self._reminders.purge_suspended(now)
        if purged:
            logger.info("%d suspended reminders purged", purged)

    # -- firing ------------------------------------------------------------------------------------------
    async def fire(self, reminder: Reminder) -> None:
        now = self._clock()
        zone = await self._reader_zone(reminder)
        if await self._held_for_quiet_hours(reminder, now, zone):
            return
        lateness = now - reminder.occurrence_at
        if lateness > self._max_lateness:
            await self._tell_missed(reminder, zone)
            await self._advance(reminder, now, fired=False, activity_id=None)
            return
        late = None
        if lateness > LATE_AFTER:
            due = format_time(reminder.occurrence_at, zone)
            late = _("Late: this was due {when} while {app} was offline.", when=due, app=self._app)
        card = self._cards.due(reminder, zone=zone, late=late)
        sent = await self._send(reminder, _message(card, _("Reminder: {text}", text=reminder.text[:100])))
        if sent is None:
            return
        if self.on_fired is not None:
            self.on_fired(reminder)
        await self._advance(reminder, self._clock(), fired=True, activity_id=sent.activity_id)
        if reminder.fired_count == 0 and from_someone_else(reminder):
            await self._tell_creator(
                reminder,
                N_("Delivered your reminder to {who}: {text}"),
                who=reminder.target_name or N_("them"),
                text=reminder.text[:120],
            )

    async def _reader_zone(self, reminder: Reminder) -> str:
        """The zone the card is read in: the recipient's own now (their setting, else the one Teams last sent),
        else the reminder's (a chat or channel: the zone of who set it)."""
        if reminder.target_kind != "user" or not reminder.target_user_id:
            return reminder.zone
        prefs = await self._store.people.preferences(reminder.tenant_id, reminder.target_user_id)
        return next((str(z) for z in (prefs.zone, prefs.teams_zone) if valid_zone(z)), reminder.zone)

    async def _held_for_quiet_hours(self, reminder: Reminder, now: datetime, reader_zone: str) -> bool:
        """A reminder for a person that falls in their quiet hours (in their zone) waits until those end."""
        if reminder.target_kind != "user" or not reminder.target_user_id:
            return False
        prefs = await self._store.people.preferences(reminder.tenant_id, reminder.target_user_id)
        zone = ZoneInfo(reader_zone)
        quiet_end = in_quiet_hours(now.astimezone(zone).replace(tzinfo=None), prefs.quiet_start, prefs.quiet_end)
        if quiet_end is None:
            return False
        await self._reminders.finish(reminder, now, status=ACTIVE, due_at=localize(quiet_end, zone))
        logger.info("reminder held until the end of quiet hours")
        return True

    async def _send(self, reminder: Reminder, activity: dict[str, Any]) -> Sent | None:
        """Send with the exactly-once mark; None when it did not leave (its outcome is recorded already)."""

        async def mark() -> bool:
            return await self._reminders.mark_sending(reminder, self._clock())

        try:
            return await self._sender.send(reminder.tenant_id, recipient_of(reminder), activity, before_send=mark)
        except Cancelled:
            return None
        except NotInstalled as exc:
            await self._reminders.finish(reminder, self._clock(), status=DISABLED)
            await self._tell_creator(
                reminder, N_("I couldn't deliver your reminder ({reason}); it is now off."), reason=exc.reason
            )
            return None
        except ConnectorFailure as failure:
            await self._failed(reminder, failure)
            return None

    async def _failed(self, reminder: Reminder, failure: ConnectorFailure) -> None:
        now = self._clock()
        if failure.kind in (FailureKind.RETRY, FailureKind.NOT_SENT):
            await self._retry_or_give_up(reminder, failure, now)
            return
        if failure.kind is FailureKind.MAYBE_DELIVERED:
            await self._advance(reminder, now, fired=True, activity_id=None)
            return
        await self._reminders.finish(reminder, now, status=DISABLED)
        where = N_("its chat or channel is gone") if reminder.target_kind == "conversation" else failure.reason
        await self._tell_creator(
            reminder, N_("Your reminder \u201c{text}\u201d is off: {where}."), text=reminder.text[:80], where=where
        )

    async def _retry_or_give_up(self, reminder: Reminder, failure: ConnectorFailure, now: datetime) -> None:
        """Not delivered, safe to try again: later, with a growing delay; a throttle (429) is only waited out. After
        :data:`MAX_DELIVERY_ATTEMPTS` failed tries the reminder is failed and whoever set it is told."""
        if failure.status == 429:
            self._sender.pause(reminder.tenant_id, failure.retry_after or 1.0)
            retry = now + timedelta(seconds=failure.retry_after or FIRST_RETRY_SECONDS)
            await self._reminders.finish(reminder, now, status=ACTIVE, due_at=retry)
            return
        attempts = reminder.delivery_attempts + 1
        if attempts >= MAX_DELIVERY_ATTEMPTS:
            await self._reminders.finish(reminder, now, status=FAILED, attempts=attempts)
            logger.warning("reminder failed after %d delivery attempts: %s", attempts, failure.reason)
            with i18n.using(await self._store.people.locale(reminder.tenant_id, reminder.creator_id)):
                who = reminder.target_name or (_("this chat") if reminder.target_kind == "conversation" else _("them"))
                text = _(
                    "I couldn't deliver your reminder \u201c{text}\u201d to {who} after {attempts} "
                    "tries, so it is off. Set it again later; if this keeps happening, tell your Teams admin.",
                    text=reminder.text[:120],
                    who=who,
                    attempts=attempts,
                )
                title = _("A reminder could not be delivered")
                await self._notice(reminder, {"userId": reminder.creator_id}, title, text)
            return
        delay = failure.retry_after or FIRST_RETRY_SECONDS * 2 ** (attempts - 1)
        await self._reminders.finish(
            reminder, now, status=ACTIVE, due_at=now + timedelta(seconds=delay), attempts=attempts
        )

    async def _advance(self, reminder: Reminder, now: datetime, *, fired: bool, activity_id: str | None) -> None:
        """A repeating reminder moves to its next occurrence; a one-off is fired (or missed)."""
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
                    attempts=0,
                )
                return
        await self._reminders.finish(
            reminder, now, status=FIRED if fired else MISSED, fired=fired, activity_id=activity_id, attempts=0
        )

    # -- telling people ----------------------------------------------------------------------------------
    async def _notice(self, reminder: Reminder, recipient: dict[str, Any], title: str, text: str) -> None:
        with contextlib.suppress(NotInstalled, ConnectorFailure, Cancelled):
            await self._sender.send(reminder.tenant_id, recipient, _message(self._cards.notice(title, text), title))

    async def _tell_creator(self, reminder: Reminder, message: str, **values: str) -> None:
        """``message`` (an English id) in the language of whoever set the reminder."""
        target = (
            {"conversationId": reminder.origin_conversation_id}
            if reminder.origin_conversation_id
            else {"userId": reminder.creator_id}
        )
        with i18n.using(await self._store.people.locale(reminder.tenant_id, reminder.creator_id)):
            text = _(message, **{name: _(value) for name, value in values.items()})
            await self._notice(reminder, target, _("About your reminder"), text)

    async def _tell_missed(self, reminder: Reminder, zone: str) -> None:
        due = format_time(reminder.occurrence_at, zone)
        await self._notice(
            reminder,
            recipient_of(reminder),
            _("Missed reminder"),
            _(
                "\u201c{text}\u201d was due {when} while {app} was offline for too long, so it was skipped.",
                text=reminder.text[:200],
                when=due,
                app=self._app,
            )
            + (" " + _("The next one is scheduled as usual.") if reminder.rule else ""),
        )
