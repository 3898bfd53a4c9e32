"""Outreach's rules: queueing a notification, who may see it, acknowledging it, and nudging who has not.

Everything goes through the platform's outbox: its ledger keeps notifications and deliveries exactly once, its engine
delivers them (``wake`` when something new is queued). Who may see a notification: over the API, only the caller who
sent it; in Teams, the person who sent it or an admin (``COURIER_ADMINS``), among the announcement senders when
``COURIER_SENDERS`` is set. Only the people it was sent to may acknowledge it, once each.

Nudging: a reminder to everyone an acknowledgement-required notification reached who has not acknowledged. The nudge is
a notification of its own, so it is delivered exactly once by the same engine and limits; its Acknowledge button
records the click on the original. At most one nudge per notification per hour.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.features.outreach.cards import SHORT_ID, reminder_of
from bot.platform.i18n import N_
from bot.platform.messaging.ledger import AlreadyRecalled, Delivery, Notification, OutreachLedger, Revision
from bot.platform.messaging.localtime import wall_text
from bot.platform.messaging.outbox import Outbox
from bot.platform.storage.base import Store

logger = logging.getLogger(__name__)

NUDGE_INTERVAL = timedelta(hours=1)
MAX_ID_LENGTH = 64
Recipients = list[tuple[str, dict[str, Any]]]  # (recipient key, recipient)


def new_notification_id() -> str:
    """A notification's id: unguessable, so knowing it is what lets someone look a notification up in Teams."""
    return uuid.uuid4().hex


class NotARecipient(Exception):
    """An acknowledgement from someone the notification was not sent to: it counts for nothing."""


class NudgeRefused(Exception):
    """Why not: ``message`` in English (the API's answer); ``template`` and ``values`` to say it in a person's
    language."""

    def __init__(self, template: str, retry_after: timedelta | None = None, **values: str) -> None:
        message = template.format(**values)
        super().__init__(message)
        self.message = message
        self.template = template
        self.values = values
        self.retry_after = retry_after


class ChangeRefused(Exception):
    """An edit or recall that cannot happen (the notification was recalled): the caller gets a 409."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Recalled:
    number: int  # the recall's place in the notification's revisions
    mode: str  # delete | replace
    cancelled: int  # deliveries that had not been sent
    copies: int  # copies queued to be deleted or replaced


@dataclass(frozen=True, slots=True)
class OperationProgress:
    """One revision (or the recall) and its operations by state (``done:updated``, ``failed:copy_deleted``...)."""

    revision: Revision
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class Nudged:
    nudge: Notification | None  # None when everybody had acknowledged already
    recipients: int


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification to queue; its card already carries the Acknowledge button when ``ack_required``."""

    notification_id: str
    tenant_id: str
    sender: str
    idempotency_key: str  # the same (sender, key) twice queues nothing more
    card: dict[str, Any]
    ack_required: bool
    recipients: Recipients
    send_at: datetime | None = None  # now, unless scheduled
    local_at: datetime | None = None  # a wall-clock time in each recipient's zone (instead of send_at)
    important: bool = False  # also to each recipient's activity feed


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a notification got: its deliveries by state (and failure reason), its acknowledgements, its timing."""

    notification: Notification
    totals: dict[str, int]
    first_sent: datetime | None
    last_sent: datetime | None
    waiting_for_local_time: int | None = None  # a local-time notification's recipients whose time has not come
    activity_feed: dict[str, int] | None = None  # an important notification's feed notifications by outcome

    @property
    def sent(self) -> int:
        return self.totals.get("sent", 0)

    @property
    def acknowledged(self) -> int:
        return self.totals.get("acknowledged", 0)

    @property
    def sending_seconds(self) -> float:
        if self.first_sent is None or self.last_sent is None:
            return 0.0
        return (self.last_sent - self.first_sent).total_seconds()

    @property
    def can_nudge(self) -> bool:
        return self.notification.ack_required and self.notification.parent_id is None


class OutreachService:
    def __init__(self, outbox: Outbox | None, store: Store, clock: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._store = store
        self._clock = clock

    @property
    def _ledger(self) -> OutreachLedger:
        if self._outbox is None:
            raise RuntimeError("this process has no outbox, so no outreach ledger")
        return self._outbox.ledger

    def _wake(self) -> None:
        if self._outbox is not None:
            self._outbox.wake()

    async def queue(self, draft: Draft) -> tuple[Notification, bool]:
        """Queue a notification (or find the one queued before with the same key); True when it is new."""
        now = self._clock()
        due = await self._due_times(draft)
        notification, created = await self._ledger.create_notification(
            tenant_id=draft.tenant_id,
            sender=draft.sender,
            idempotency_key=draft.idempotency_key,
            card=draft.card,
            ack_required=draft.ack_required,
            send_at=min(due.values(), default=now) if due else draft.send_at or now,
            now=now,
            recipients=draft.recipients,
            notification_id=draft.notification_id,
            due=due,
            local_time=wall_text(draft.local_at) if draft.local_at else None,
            important=draft.important,
        )
        if created:
            logger.info("notification queued for %d recipients", len(draft.recipients))
            self._wake()
        return notification, created

    async def _due_times(self, draft: Draft) -> dict[str, datetime]:
        """A local-time notification's due time per recipient (each in their zone); empty for any other."""
        if draft.local_at is None or self._outbox is None:
            return {}
        return await self._outbox.local_due.due_times(draft.tenant_id, draft.local_at, draft.recipients)

    async def tenant_of(self, recipients: Recipients) -> str:
        """The one tenant of the stored conversations named as recipients ("" when none or several)."""
        tenants = set()
        for _, recipient in recipients:
            if "conversationId" not in recipient:
                return ""
            record = await self._store.get_conversation(str(recipient["conversationId"]))
            if record is None:
                return ""
            tenants.add(record.tenant_id)
        return tenants.pop() if len(tenants) == 1 else ""

    async def find(self, notification_id: str) -> Notification | None:
        """The notification with this id; None for an unknown id or one that could not be an id at all (too long, a
        NUL character, which PostgreSQL cannot even compare)."""
        if not notification_id or len(notification_id) > MAX_ID_LENGTH or "\x00" in notification_id:
            return None
        return await self._ledger.get_notification(notification_id)

    async def find_shown(self, typed: str) -> Notification | None:
        """The notification a person means: its whole id, or the short id its status card shows (a prefix of at
        least :data:`SHORT_ID` characters that only one notification starts with)."""
        found = await self.find(typed)
        if found is not None or not SHORT_ID <= len(typed) < len(new_notification_id()):
            return found
        matches = await self._ledger.notifications_starting(typed)
        return matches[0] if len(matches) == 1 else None

    async def recent(self, sender: str) -> list[Notification]:
        """What ``sender`` (``teams:<object id>``) sent lately, newest first."""
        return await self._ledger.recent_notifications(sender)

    async def owned(self, notification_id: str, sender: str) -> Notification | None:
        """The notification, if ``sender`` sent it: API callers see their own notifications only."""
        notification = await self.find(notification_id)
        if notification is None or notification.sender != sender:
            return None
        return notification

    async def visible(self, notification_id: str, sender: str, *, everything: bool = False) -> Notification | None:
        """The notification if the caller may see it: its sender, or an admin (``everything``)."""
        if everything:
            return await self.find(notification_id)
        return await self.owned(notification_id, sender)

    async def listing(
        self, sender: str | None, *, before: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[Notification], dict[str, dict[str, int]]]:
        """A page of notifications, newest first (``sender``'s, or all when None), with their deliveries by state."""
        page = await self._ledger.listing(sender=sender, before=before, limit=limit)
        return page, await self._ledger.counts([n.id for n in page])

    async def progress(self, notification: Notification) -> Progress:
        totals = await self._ledger.totals(notification.id)
        first, last = await self._ledger.timing(notification.id)
        waiting = (
            await self._ledger.waiting_for_local_time(notification.id, self._clock())
            if notification.local_time
            else None
        )
        feed = await self._ledger.feed_totals(notification.id) if notification.important else None
        return Progress(notification, totals, first, last, waiting, feed)

    async def recipients(self, notification_id: str, *, state: str | None, after: str, limit: int) -> list[Delivery]:
        return await self._ledger.page(notification_id, state=state, after=after, limit=limit)

    async def edit(self, notification: Notification, card: dict[str, Any]) -> int:
        """A new revision of the content for every copy, sent or still queued; its number."""
        try:
            number = await self._ledger.operations.revise(notification.id, card, self._clock())
        except AlreadyRecalled:
            raise ChangeRefused("this notification was recalled; it can no longer be edited") from None
        for nudge in await self._ledger.nudges(notification.id):  # its reminders show the new content too
            await self._ledger.operations.revise(nudge.id, reminder_of(card), self._clock())
        logger.info("notification edited: revision %d queued for its copies", number)
        self._wake()
        return number

    async def recall(self, notification: Notification, *, mode: str, card: dict[str, Any] | None) -> Recalled:
        """Cancel what is queued and delete every copy (or replace it with ``card``)."""
        try:
            number, cancelled, copies = await self._ledger.operations.recall(
                notification.id, mode=mode, card=card, now=self._clock()
            )
        except AlreadyRecalled:
            raise ChangeRefused("this notification was recalled already") from None
        for nudge in await self._ledger.nudges(notification.id):  # and its reminders are withdrawn with it
            await self._ledger.operations.recall(nudge.id, mode=mode, card=card, now=self._clock())
        logger.info("notification recalled (%s): %d copies, %d queued deliveries cancelled", mode, copies, cancelled)
        self._wake()
        return Recalled(number, mode, cancelled, copies)

    async def operations(self, notification: Notification) -> list[OperationProgress]:
        """Every revision after the original, and a recall, with their progress."""
        counts = await self._ledger.operations.progress(notification.id)
        revisions = await self._ledger.operations.revisions(notification.id)
        return [OperationProgress(r, counts.get(r.number, {})) for r in revisions if r.kind != "original"]

    async def cancel(self, notification: Notification) -> int:
        """Cancel what is still queued; how many deliveries that stopped."""
        return await self._ledger.cancel(notification.id, self._clock())

    @staticmethod
    def may_manage(notification: Notification, user_id: str, admins: frozenset[str]) -> bool:
        """Whether the Teams user ``user_id`` may see and nudge ``notification``: its sender, or an admin."""
        user = user_id.lower()
        return bool(user) and (notification.sender == f"teams:{user}" or user in admins)

    async def acknowledge(self, notification: Notification, user_id: str, *, conversation_id: str) -> datetime:
        """Record ``user_id``'s acknowledgement (once: a repeated click changes nothing); when it was recorded.
        NotARecipient when it was not sent to them (nothing is recorded)."""
        now = self._clock()
        if not await self._ledger.is_recipient(notification.id, user_id, conversation_id=conversation_id):
            logger.info("an acknowledgement from someone the notification was not sent to was refused")
            raise NotARecipient
        if not await self._ledger.acknowledge(notification.id, user_id, now, conversation_id=conversation_id):
            logger.info("a repeated or foreign acknowledgement was ignored")
        return now

    async def nudge(self, original: Notification) -> Nudged:
        """Remind everyone ``original`` reached who has not acknowledged; NudgeRefused says why not."""
        now = self._clock()
        await self._check_nudge(original, now)
        created, count = await self._ledger.create_nudge(
            original, card=reminder_of(original.card), now=now, nudge_id=new_notification_id()
        )
        if count == 0:
            # Nobody left to remind: drop the empty nudge so it does not count against the hourly limit.
            await self._ledger.cancel(created.id, now)
            logger.info("nudge skipped: every recipient had acknowledged")
            return Nudged(None, 0)
        logger.info("nudge queued for %d unacknowledged recipients", count)
        self._wake()
        return Nudged(created, count)

    async def _check_nudge(self, original: Notification, now: datetime) -> None:
        if original.parent_id is not None:
            raise NudgeRefused(N_("this is a nudge already; nudge the original notification"))
        if not original.ack_required:
            raise NudgeRefused(N_("this notification did not ask for acknowledgements, so there is nobody to nudge"))
        if original.status == "cancelled":
            raise NudgeRefused(N_("this notification was cancelled"))
        last = await self._ledger.last_nudge(original.id)
        if last is not None and now - last < NUDGE_INTERVAL:
            raise NudgeRefused(
                N_("it was nudged at {last} UTC; nudge again after {next} UTC"),
                retry_after=last + NUDGE_INTERVAL - now,
                last=f"{last:%H:%M}",
                next=f"{last + NUDGE_INTERVAL:%H:%M}",
            )
