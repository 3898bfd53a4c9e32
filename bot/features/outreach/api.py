"""The notifications HTTP API: ``/api/notifications`` for other systems to reach people in Teams.

Auth (see :mod:`bot.platform.access`): ``Authorization: Bearer <key>`` with a key from
``COURIER_API_KEYS`` (compared as SHA-256 digests in constant time; only digests are kept), an Entra access token
for Courier's app id carrying the app role ``Notifications.Send``, or a person (the console: a single sign-on token
or a session cookie with its CSRF header) with the sender or admin role. Anything else: 401 (403 for a person who
is not a sender) and nothing stored. A caller sees the notifications it sent; admins see every one.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.features.outreach import cards
from bot.features.outreach.engagement import EngagementService
from bot.features.outreach.engagement_api import (
    CSV_HEADER,
    BadFilter,
    csv_row,
    engagement_json,
    install_redirect,
    parse_filter,
    recipient_engagement,
)
from bot.features.outreach.requests import InvalidRequest, parse_edit, parse_notification, parse_recall
from bot.features.outreach.service import (
    ChangeRefused,
    Draft,
    NudgeRefused,
    OperationProgress,
    OutreachService,
    Progress,
    new_notification_id,
)
from bot.platform.access import Caller
from bot.platform.http import BodyRefused, read_json_body
from bot.platform.messaging.engagement import EngagementFilter
from bot.platform.messaging.ledger import DeliveryState, Notification
from bot.platform.services import Services
from bot.platform.web.api import caller_or_problem, json_body, problem

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
PAGE_SIZE = 500
STATES = frozenset(state.value for state in DeliveryState)
LIST_SIZE = 50
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(status: int, message: str, field: str | None = None) -> web.Response:
    return problem(status, message, field)


def _title(card: dict[str, Any]) -> str:
    """A notification's title: the first text of its card."""
    stack = list(reversed(card.get("body") or []))
    while stack:
        element = stack.pop()
        if not isinstance(element, dict):
            continue
        if element.get("type") == "TextBlock" and isinstance(element.get("text"), str):
            return str(element["text"])[:200]
        for key in ("items", "columns"):
            stack.extend(reversed(element.get(key) or []))
    return "(untitled)"


def _state(notification: Notification, by_state: dict[str, int], now: datetime) -> str:
    """What a person reads: cancelled, scheduled (not due yet), sending (deliveries still open), or done."""
    if notification.status == "cancelled":
        return "cancelled"
    waiting = sum(by_state.get(s, 0) for s in ("queued", "claimed", "sending"))
    if waiting and notification.send_at > now and not by_state.get("sent"):
        return "scheduled"
    return "sending" if waiting else "done"


def _cursor(raw: str) -> tuple[datetime, str] | web.Response | None:
    if not raw:
        return None
    stamp, _, notification_id = raw.partition("~")
    try:
        created = datetime.fromisoformat(stamp)
    except ValueError:
        return _problem(400, "is not a cursor this API gave out", "cursor")
    if created.tzinfo is None or not notification_id:
        return _problem(400, "is not a cursor this API gave out", "cursor")
    return created, notification_id


_OPERATION_STATES = (
    ("queued", "queued"),
    ("claimed", "inProgress"),
    ("applying", "inProgress"),
    ("superseded", "superseded"),
    ("skipped", "notDelivered"),
    ("maybe_applied", "maybeApplied"),
)


def _operation(item: OperationProgress) -> dict[str, Any]:
    """One revision's (or the recall's) progress: how many copies wait, were changed, failed (by reason)."""
    revision, counts = item.revision, item.counts
    report: dict[str, Any] = {"revision": revision.number, "kind": revision.kind}
    if revision.mode:
        report["mode"] = revision.mode
    report["createdAt"] = revision.created_at.isoformat()
    done = "recalled" if revision.kind == "recall" else "updated"
    report.update({"queued": 0, "inProgress": 0, done: counts.get(f"done:{done}", 0)})
    if revision.kind != "recall":
        report["alreadyCurrent"] = counts.get("done:current", 0)
    for state, key in _OPERATION_STATES:
        if counts.get(state):
            report[key] = report.get(key, 0) + counts[state]
    report["failed"] = {k.removeprefix("failed:"): n for k, n in sorted(counts.items()) if k.startswith("failed:")}
    report["copies"] = sum(n for k, n in counts.items() if ":" not in k)
    return report


def _summary(progress: Progress) -> dict[str, Any]:
    notification, first, last = progress.notification, progress.first_sent, progress.last_sent
    seconds = progress.sending_seconds
    return {
        "id": notification.id,
        "status": notification.status,
        "tenantId": notification.tenant_id,
        "ackRequired": notification.ack_required,
        "createdAt": notification.created_at.isoformat(),
        "sendAt": notification.send_at.isoformat(),
        "firstSentAt": first.isoformat() if first else None,
        "lastSentAt": last.isoformat() if last else None,
        "throughputPerSecond": round(progress.sent / seconds, 2) if seconds > 0 else None,
        "totals": progress.totals,
        **_timing_and_feed(progress),
    }


def _timing_and_feed(progress: Progress) -> dict[str, Any]:
    """A local-time notification's wall-clock time and who still waits for it; an important one's feed outcomes."""
    notification = progress.notification
    extra: dict[str, Any] = {}
    if notification.local_time:
        day, local = notification.local_time.split("T")
        extra["localTime"] = {"date": day, "localTime": local, "waiting": progress.waiting_for_local_time or 0}
    if notification.important:
        extra["important"] = True
        extra["activityFeed"] = progress.activity_feed or {}
    return extra


class NotificationsApi:
    def __init__(self, services: Services, service: OutreachService, engagement: EngagementService) -> None:
        self._services = services
        self._service = service
        self._engagement = engagement

    def install(self, app: web.Application) -> None:
        app.router.add_get("/api/notifications", self._guarded(self.listing))
        app.router.add_post("/api/notifications", self._guarded(self.create))
        app.router.add_get("/api/notifications/{id}", self._guarded(self.status))
        app.router.add_get("/api/notifications/{id}/recipients", self._guarded(self.recipients))
        app.router.add_get("/api/notifications/{id}/recipients.csv", self._guarded(self.recipients_csv))
        app.router.add_delete("/api/notifications/{id}", self._guarded(self.cancel))
        app.router.add_post("/api/notifications/{id}/nudge", self._guarded(self.nudge))
        app.router.add_patch("/api/notifications/{id}", self._guarded(self.edit))
        app.router.add_post("/api/notifications/{id}/recall", self._guarded(self.recall))

    def _guarded(self, handler: Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            caller = await caller_or_problem(self._services, request, sender=True)
            if isinstance(caller, web.Response):
                return caller
            return await handler(request, caller)

        return wrapper

    async def _visible(self, request: web.Request, caller: Caller) -> Notification | None:
        return await self._service.visible(request.match_info["id"], caller.sender, everything=caller.sees_everything)

    async def listing(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        before = _cursor(request.query.get("cursor", ""))
        if isinstance(before, web.Response):
            return before
        try:
            limit = max(1, min(int(request.query.get("limit", LIST_SIZE)), LIST_SIZE))
        except ValueError:
            return _problem(400, f"must be a whole number from 1 to {LIST_SIZE}", "limit")
        sender = None if caller.sees_everything else caller.sender
        page, counts = await self._service.listing(sender, before=before, limit=limit)
        now = self._services.clock()
        items = []
        for notification in page:
            by_state = counts.get(notification.id, {})
            items.append(
                {
                    "id": notification.id,
                    "title": _title(notification.card),
                    "status": notification.status,
                    "state": _state(notification, by_state, now),
                    "createdAt": notification.created_at.isoformat(),
                    "sendAt": notification.send_at.isoformat(),
                    "ackRequired": notification.ack_required,
                    "mine": notification.sender == caller.sender,
                    "counts": {"total": sum(by_state.values()), **by_state},
                }
            )
        body: dict[str, Any] = {"notifications": items}
        if len(page) == limit:
            last = page[-1]
            body["next"] = f"/api/notifications?{urlencode({'cursor': f'{last.created_at.isoformat()}~{last.id}'})}"
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def _draft(self, request: web.Request, caller: Caller) -> Draft | web.Response:
        """The notification the request asks for, or the problem answer."""
        try:
            body = await read_json_body(request, MAX_BODY_BYTES)
        except BodyRefused as refused:
            return refused.response()
        settings = self._services.settings
        notification_id = new_notification_id()
        try:
            parsed = parse_notification(
                body,
                cards=self._services.cards,
                default_tenant=settings.app_tenant_id or "",
                allowed_tenants=settings.allowed_tenants,
                notification_id=notification_id,
            )
        except InvalidRequest as exc:
            return _problem(400, exc.message, exc.field)
        tenant_id = parsed.tenant_id or await self._service.tenant_of(parsed.recipients)
        if not tenant_id:
            return _problem(
                400, "is required: no MicrosoftAppTenantId is set and the recipients do not name a tenant", "tenantId"
            )
        return Draft(
            notification_id=notification_id,
            tenant_id=tenant_id,
            sender=caller.sender,
            idempotency_key=parsed.idempotency_key,
            card=parsed.card,
            ack_required=parsed.ack_required,
            recipients=parsed.recipients,
            send_at=parsed.send_at,
            local_at=parsed.local_at,
            important=parsed.important,
        )

    async def create(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        draft = await self._draft(request, caller)
        if isinstance(draft, web.Response):
            return draft
        notification, created = await self._service.queue(draft)
        return web.json_response(
            {"id": notification.id, "status": f"/api/notifications/{notification.id}", "created": created}, status=202
        )

    async def status(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        notification = await self._visible(request, caller)
        if notification is None:
            return _problem(404, "no such notification")
        body = _summary(await self._service.progress(notification))
        body["revision"] = notification.revision
        body["recalledAt"] = notification.recalled_at.isoformat() if notification.recalled_at else None
        body["operations"] = [_operation(item) for item in await self._service.operations(notification)]
        if request.query.get("engagement", "true").lower() not in {"false", "0", "no"}:  # cheaper polling without
            body["engagement"] = engagement_json(await self._engagement.totals(notification.id))
        return web.json_response(body)

    async def _changeable(self, request: web.Request, caller: Caller) -> Notification | web.Response:
        """The notification, when the caller may change it: whoever may see it (its sender, or an admin)."""
        notification = await self._visible(request, caller)
        if notification is None:
            return _problem(404, "no such notification")
        return notification

    async def edit(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        """``PATCH``: new content for every copy, delivered or queued; 202 with the revision's number."""
        notification = await self._changeable(request, caller)
        if isinstance(notification, web.Response):
            return notification
        body = await json_body(request, MAX_BODY_BYTES)
        if isinstance(body, web.Response):
            return body
        try:
            card = parse_edit(
                body,
                cards=self._services.cards,
                notification_id=notification.id,
                ack_required=notification.ack_required,
            )
            revision = await self._service.edit(notification, card)
        except InvalidRequest as exc:
            return _problem(400, exc.message, exc.field)
        except ChangeRefused as exc:
            return _problem(409, exc.message)
        status = f"/api/notifications/{notification.id}"
        return web.json_response({"id": notification.id, "revision": revision, "status": status}, status=202)

    async def recall(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        """``POST .../recall``: cancel what is queued; delete every copy, or replace it (``{"mode": "replace"}``)."""
        notification = await self._changeable(request, caller)
        if isinstance(notification, web.Response):
            return notification
        body = await json_body(request, MAX_BODY_BYTES)
        if isinstance(body, web.Response):
            return body
        try:
            mode = parse_recall(body)
            when = cards.local_time(self._services.clock(), None)
            card = cards.withdrawn(self._services.cards, None, when) if mode == "replace" else None
            done = await self._service.recall(notification, mode=mode, card=card)
        except InvalidRequest as exc:
            return _problem(400, exc.message, exc.field)
        except ChangeRefused as exc:
            return _problem(409, exc.message)
        answer = {"id": notification.id, "revision": done.number, "mode": done.mode, "cancelled": done.cancelled}
        answer |= {"copies": done.copies, "status": f"/api/notifications/{notification.id}"}
        return web.json_response(answer, status=202)

    async def recipients(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        notification = await self._visible(request, caller)
        if notification is None:
            return _problem(404, "no such notification")
        state = request.query.get("state") or None
        if state is not None and state not in STATES:
            return _problem(400, f"must be one of {', '.join(sorted(STATES))}", "state")
        cursor = request.query.get("cursor", "")
        if "\x00" in cursor or len(cursor) > 1024:
            return _problem(400, "is not a cursor this API gave", "cursor")
        try:
            where = parse_filter(request.query)
        except BadFilter as exc:
            return _problem(400, exc.message, exc.field)
        if request.query.get("format") == "csv":
            return await self._csv(request, notification.id, where)
        page = await self._engagement.recipients(notification.id, where=where, after=cursor, limit=PAGE_SIZE)
        items = [
            {
                "key": e.delivery.recipient_key,
                "recipient": e.delivery.recipient,
                "state": e.delivery.state.value,
                "reason": e.delivery.reason,
                "attempts": e.delivery.attempts,
                "revision": e.delivery.revision,
                **recipient_engagement(e),
            }
            for e in page
        ]
        body: dict[str, Any] = {"recipients": items}
        if len(page) == PAGE_SIZE:
            query = {k: v for k, v in request.query.items() if k != "cursor"}
            query["cursor"] = page[-1].delivery.recipient_key
            body["next"] = f"/api/notifications/{notification.id}/recipients?{urlencode(query)}"
        return web.json_response(body)

    async def recipients_csv(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        """``/recipients.csv``: every recipient (with the listing's filters) streamed as CSV."""
        notification = await self._visible(request, caller)
        if notification is None:
            return _problem(404, "no such notification")
        try:
            where = parse_filter(request.query)
        except BadFilter as exc:
            return _problem(400, exc.message, exc.field)
        return await self._csv(request, notification.id, where)

    async def _csv(self, request: web.Request, notification_id: str, where: EngagementFilter) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="notification-{notification_id}.csv"',
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_HEADER)
        cursor = ""
        while page := await self._engagement.recipients(notification_id, where=where, after=cursor, limit=PAGE_SIZE):
            writer.writerows(csv_row(e) for e in page)
            await response.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
            cursor = page[-1].delivery.recipient_key
        if buffer.getvalue():
            await response.write(buffer.getvalue().encode("utf-8"))
        await response.write_eof()
        return response

    async def cancel(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        notification = await self._visible(request, caller)
        if notification is None:
            return _problem(404, "no such notification")
        cancelled = await self._service.cancel(notification)
        return web.json_response({"id": notification.id, "cancelled": cancelled})

    async def nudge(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        notification = await self._visible(request, caller)
        if notification is None:
            return _problem(404, "no such notification")
        try:
            done = await self._service.nudge(notification)
        except NudgeRefused as exc:
            response = _problem(409, exc.message)
            if exc.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, int(exc.retry_after.total_seconds())))
            return response
        if done.nudge is None:
            return web.json_response({"id": None, "recipients": 0, "message": "everyone has acknowledged"})
        return web.json_response(
            {"id": done.nudge.id, "recipients": done.recipients, "status": f"/api/notifications/{done.nudge.id}"},
            status=202,
        )


def install_api(
    app: web.Application, services: Services, service: OutreachService, engagement: EngagementService
) -> None:
    """``/api/notifications``: API keys, Entra app tokens, and people (the console) with the sender role; and the
    click redirect."""
    NotificationsApi(services, service, engagement).install(app)
    install_redirect(app, engagement)
