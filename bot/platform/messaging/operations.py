"""Edits and recalls of delivered copies, applied exactly once at the pace of sends.

The engine claims due operations (:class:`bot.platform.messaging.ledger.OperationLedger`) next to deliveries and
hands each to :class:`OperationApplier`: wait for the tenant's pace (bulk lane) and the conversation's windows, mark
*applying* (committed, grouped with other appliers'), then ``PUT`` the revision's card or ``DELETE`` the copy. The
outcome follows the sends' failure classes: retry 412/429/502/504 (Retry-After honoured, a 429 pauses the tenant),
stop on a permanent failure (404 for a copy the user deleted or a conversation that is gone, blocked, disabled),
record ``maybe_applied`` for anything else after the request left.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.platform.messaging.groupcommit import Batcher
from bot.platform.messaging.ledger import Operation, OperationLedger, OperationState
from bot.platform.messaging.ratelimit import ConversationLimiter, Lane, TenantLimiter
from bot.platform.teams.connector import BotConnector, ConnectorFailure, FailureKind

logger = logging.getLogger(__name__)

# (the revision's card, when the copy was acknowledged, the operation) -> the card that copy shows: a feature's
# "acknowledged" view of the new content, so an acknowledged copy stays acknowledged.
AcknowledgedView = Callable[[dict[str, Any], datetime, Operation], Awaitable[dict[str, Any]]]


def card_activity(card: dict[str, Any]) -> dict[str, Any]:
    """A notification card as a message activity, its first text as the notification summary."""
    summary = next(
        (b.get("text") for b in card.get("body", []) if isinstance(b, dict) and b.get("type") == "TextBlock"),
        "New announcement",
    )
    return {
        "type": "message",
        "summary": str(summary)[:200],
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


class OperationActivities:
    """The activity that replaces a copy: its revision's card (cached per revision), seen as acknowledged when the
    copy was acknowledged and a feature registered that view."""

    def __init__(self, ledger: OperationLedger, *, cache_size: int = 64) -> None:
        self._ledger = ledger
        self._cache: dict[tuple[str, int], dict[str, Any] | None] = {}
        self._size = cache_size
        self.acknowledged_view: AcknowledgedView | None = None

    async def card(self, notification_id: str, revision: int) -> dict[str, Any] | None:
        key = (notification_id, revision)
        if key not in self._cache:
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = await self._ledger.revision_card(notification_id, revision)
        return self._cache[key]

    async def __call__(self, op: Operation) -> dict[str, Any] | None:
        card = await self.card(op.notification_id, op.revision)
        if card is None:
            return None
        if op.acked_at is not None and not op.recalled and self.acknowledged_view is not None:
            card = await self.acknowledged_view(card, op.acked_at, op)
        return {**card_activity(card), "id": op.activity_id}


def failure_reason(failure: ConnectorFailure) -> str:
    """404 means the copy is gone (``ActivityNotFoundInConversation``: the user deleted it) or the whole conversation
    is (``ConversationNotFound``: uninstalled, deleted)."""
    if failure.status == 404:
        return "copy_deleted" if "activity" in failure.code.lower() else "conversation_gone"
    return failure.reason or "rejected"


class OperationApplier:
    def __init__(
        self,
        ledger: OperationLedger,
        connector: BotConnector,
        activities: OperationActivities,
        *,
        clock: Callable[[], datetime],
        tenants: TenantLimiter,
        conversations: ConversationLimiter,
        service_url: str,
        max_attempts: int,
        count: Callable[[str], None],
    ) -> None:
        self._ledger = ledger
        self._connector = connector
        self._activities = activities
        self._clock = clock
        self._tenants = tenants
        self._conversations = conversations
        self._service_url = service_url
        self._max_attempts = max_attempts
        self._count = count
        self._applying: Batcher[Operation, bool] = Batcher(self._flush_applying)
        self._finished: Batcher[tuple[Operation, str, str], None] = Batcher(self._flush_finished)

    async def _flush_applying(self, ops: list[Operation]) -> list[bool]:
        allowed = await self._ledger.mark_applying_many(ops, self._clock())
        return [op.key in allowed for op in ops]

    async def _flush_finished(self, items: list[tuple[Operation, str, str]]) -> list[None]:
        await self._ledger.finish_many(items, self._clock())
        return [None] * len(items)

    async def _finish(self, op: Operation, state: OperationState, reason: str) -> OperationState:
        await self._finished.submit((op, state.value, reason))
        self._count(f"op:{state.value}:{reason}")
        return state

    async def apply(self, op: Operation) -> OperationState:
        if op.kind == "update" and not op.recalled and op.copy_revision >= op.revision:
            return await self._finish(op, OperationState.DONE, "current")  # sent with this revision already
        service_url = op.service_url or self._service_url
        if not op.activity_id or not op.conversation_id or not service_url:
            return await self._finish(op, OperationState.FAILED, "no_activity_id")
        activity = await self._activities(op) if op.kind == "update" else None
        if op.kind == "update" and activity is None:
            return await self._finish(op, OperationState.FAILED, "revision_missing")
        await self._tenants.acquire(op.tenant_id, Lane.BULK)
        await self._conversations.acquire(op.conversation_id)
        await self._tenants.depart(op.tenant_id)
        if not await self._applying.submit(op):
            logger.warning("lost the claim on an edit or recall before applying it; another worker has it")
            return OperationState.CLAIMED
        try:
            if activity is None:
                await self._connector.delete(service_url, op.conversation_id, op.activity_id)
            else:
                await self._connector.update(service_url, op.conversation_id, op.activity_id, activity)
        except ConnectorFailure as failure:
            return await self._failed(op, failure)
        return await self._finish(op, OperationState.DONE, "recalled" if op.recalled else "updated")

    async def _failed(self, op: Operation, failure: ConnectorFailure) -> OperationState:
        if failure.kind is FailureKind.PERMANENT:
            reason = failure_reason(failure)
            if reason == "copy_deleted" and op.kind == "delete" and op.attempts > 0:
                # An earlier attempt may have deleted it (it was interrupted, or answered 502/504): gone is done.
                return await self._finish(op, OperationState.DONE, "recalled")
            return await self._finish(op, OperationState.FAILED, reason)
        if failure.kind is FailureKind.MAYBE_DELIVERED:
            return await self._finish(op, OperationState.MAYBE_APPLIED, failure.reason)
        if failure.status == 429:
            self._tenants.pause(op.tenant_id, failure.retry_after or 1.0)
        if op.attempts + 1 >= self._max_attempts:
            state = OperationState.FAILED if failure.kind is FailureKind.NOT_SENT else OperationState.MAYBE_APPLIED
            return await self._finish(op, state, f"gave_up:{failure.reason}")
        wait = (
            failure.retry_after
            if failure.retry_after is not None
            else random.uniform(0, min(30.0, 0.5 * 2**op.attempts))  # noqa: S311 - backoff jitter
        )
        now = self._clock()
        await self._ledger.mark_retry(op, now, at=now + timedelta(seconds=wait), reason=failure.reason)
        self._count(f"op:retry:{failure.reason}")
        return OperationState.QUEUED
