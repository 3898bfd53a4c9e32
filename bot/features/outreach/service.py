"""Outreach's rules: queueing a notification, who may see it, acknowledging it, and nudging who has not.

Everything goes through the platform's outbox: its ledger keeps notifications and deliveries exactly once, its engine
delivers them (``wake`` when something new is queued). Who may see a notification: over the API, only the caller who
sent it; in Teams, an announcement sender (see the guards on the handlers) who gives its id, which is unguessable.

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

from bot.features.outreach.cards import reminder_of
from bot.platform.messaging.ledger import AlreadyRecalled, Delivery, Notification, OutreachLedger, Revision
from bot.platform.messaging.outbox import Outbox
from bot.platform.storage.base import Store

logger = logging.getLogger(__name__)

NUDGE_INTERVAL = timedelta(hours=1)
API_KEY_SENDER = "api:"  # how an API key caller's sender id starts (see api.api_key_sender)
Recipients = list[tuple[str, dict[str, Any]]]  # (recipient key, recipient)


def new_notification_id() -> str:
    """A notification's id: unguessable, so knowing it is what lets someone look a notification up in Teams."""
    return uuid.uuid4().hex


class NudgeRefused(Exception):
    def __init__(self, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ChangeRefused(Exception):
    """An edit or recall that cannot happen (the notification was recalled): the caller gets a 409."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def may_change(notification: Notification, caller: str) -> bool:
    """Who may edit or recall a notification: whoever sent it, or an API key caller (the operator's own systems)."""
    return caller == notification.sender or caller.startswith(API_KEY_SENDER)


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


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a notification got: its deliveries by state (and failure reason), its acknowledgements, its timing."""

    notification: Notification
    totals: dict[str, int]
    first_sent: datetime | None
    last_sent: datetime | None

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
        notification, created = await self._ledger.create_notification(
            tenant_id=draft.tenant_id,
            sender=draft.sender,
            idempotency_key=draft.idempotency_key,
            card=draft.card,
            ack_required=draft.ack_required,
            send_at=draft.send_at or now,
            now=now,
            recipients=draft.recipients,
            notification_id=draft.notification_id,
        )
        if created:
            logger.info("notification queued for %d recipients", len(draft.recipients))
            self._wake()
        return notification, created

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
        return await self._ledger.get_notification(notification_id) if notification_id else None

    async def owned(self, notification_id: str, sender: str) -> Notification | None:
        """The notification, if ``sender`` sent it: API callers see their own notifications only."""
        notification = await self.find(notification_id)
        if notification is None or notification.sender != sender:
            return None
        return notification

    async def progress(self, notification: Notification) -> Progress:
        totals = await self._ledger.totals(notification.id)
        first, last = await self._ledger.timing(notification.id)
        return Progress(notification, totals, first, last)

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

    async def acknowledge(self, notification: Notification, user_id: str, *, conversation_id: str) -> datetime:
        """Record ``user_id``'s acknowledgement (once: a repeated click changes nothing); when it was recorded."""
        now = self._clock()
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
            raise NudgeRefused("this is a nudge already; nudge the original notification")
        if not original.ack_required:
            raise NudgeRefused("this notification did not ask for acknowledgements, so there is nobody to nudge")
        if original.status == "cancelled":
            raise NudgeRefused("this notification was cancelled")
        last = await self._ledger.last_nudge(original.id)
        if last is not None and now - last < NUDGE_INTERVAL:
            raise NudgeRefused(
                f"it was nudged at {last:%H:%M} UTC; nudge again after {last + NUDGE_INTERVAL:%H:%M} UTC",
                retry_after=last + NUDGE_INTERVAL - now,
            )
