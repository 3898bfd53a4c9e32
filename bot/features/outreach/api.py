"""The notifications HTTP API: ``/api/notifications`` for other systems to reach people in Teams.

Auth: ``Authorization: Bearer <key>`` with a key from ``COURIER_API_KEYS`` (compared as SHA-256 digests in
constant time; only digests are kept), or an Entra access token for Courier's app id carrying the app role
``Notifications.Send`` (see :mod:`bot.platform.identity.tokens`). Anything else: 401 and nothing stored.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.features.outreach import cards
from bot.features.outreach.requests import InvalidRequest, parse_edit, parse_notification, parse_recall
from bot.features.outreach.service import (
    ChangeRefused,
    Draft,
    NudgeRefused,
    OperationProgress,
    OutreachService,
    Progress,
    may_change,
    new_notification_id,
)
from bot.platform.http import client_ssl_context
from bot.platform.identity.tokens import EntraTokenValidator, TokenRejected
from bot.platform.messaging.ledger import Notification
from bot.platform.services import Services

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
PAGE_SIZE = 500
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(status: int, message: str, field: str | None = None) -> web.Response:
    error: dict[str, Any] = {"status": status, "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status)


def api_key_sender(services: Services, presented: str) -> str | None:
    digest = hashlib.sha256(presented.encode("utf-8")).hexdigest()
    matched = None
    for known in services.settings.api_key_hashes:  # constant time per comparison, every key compared
        if hmac.compare_digest(digest, known):
            matched = known
    return f"api:{matched[:12]}" if matched else None


async def authenticated_sender(
    services: Services, tokens: EntraTokenValidator | None, request: web.Request
) -> str | None:
    """Who is calling: an API key's id, or the calling app of a valid Entra token; None for anything else."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    presented = header.removeprefix("Bearer ").strip()
    sender = api_key_sender(services, presented)
    if sender is not None or tokens is None or presented.count(".") != 2:
        return sender
    try:
        caller = await tokens.validate(presented)
    except TokenRejected as exc:
        logger.info("notifications API: Entra token refused: %s", exc)
        return None
    return caller.sender


async def _json_body(request: web.Request, *, empty: Any = ...) -> Any:
    """The request's JSON, or the problem answer; ``empty`` stands for an empty body when one is allowed."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _problem(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if not raw.strip() and empty is not ...:
        return empty
    try:
        return json.loads(raw)
    except ValueError:
        return _problem(400, "the body is not JSON", "body")


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
    }


class NotificationsApi:
    def __init__(self, services: Services, service: OutreachService, tokens: EntraTokenValidator | None = None) -> None:
        self._services = services
        self._service = service
        self._tokens = tokens

    def install(self, app: web.Application) -> None:
        app.router.add_post("/api/notifications", self._guarded(self.create))
        app.router.add_get("/api/notifications/{id}", self._guarded(self.status))
        app.router.add_get("/api/notifications/{id}/recipients", self._guarded(self.recipients))
        app.router.add_delete("/api/notifications/{id}", self._guarded(self.cancel))
        app.router.add_post("/api/notifications/{id}/nudge", self._guarded(self.nudge))
        app.router.add_patch("/api/notifications/{id}", self._guarded(self.edit))
        app.router.add_post("/api/notifications/{id}/recall", self._guarded(self.recall))

    def _guarded(self, handler: Callable[[web.Request, str], Awaitable[web.StreamResponse]]) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            sender = await authenticated_sender(self._services, self._tokens, request)
            if sender is None:
                return _problem(
                    401, "a valid API key or Entra access token is required: Authorization: Bearer <key or token>"
                )
            return await handler(request, sender)

        return wrapper

    async def _draft(self, request: web.Request, sender: str) -> Draft | web.Response:
        """The notification the request asks for, or the problem answer."""
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
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
            sender=sender,
            idempotency_key=parsed.idempotency_key,
            card=parsed.card,
            ack_required=parsed.ack_required,
            recipients=parsed.recipients,
            send_at=parsed.send_at,
        )

    async def create(self, request: web.Request, sender: str) -> web.StreamResponse:
        draft = await self._draft(request, sender)
        if isinstance(draft, web.Response):
            return draft
        notification, created = await self._service.queue(draft)
        return web.json_response(
            {"id": notification.id, "status": f"/api/notifications/{notification.id}", "created": created}, status=202
        )

    async def status(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._service.owned(request.match_info["id"], sender)
        if notification is None:
            return _problem(404, "no such notification")
        body = _summary(await self._service.progress(notification))
        body["revision"] = notification.revision
        body["recalledAt"] = notification.recalled_at.isoformat() if notification.recalled_at else None
        body["operations"] = [_operation(item) for item in await self._service.operations(notification)]
        return web.json_response(body)

    async def _changeable(self, request: web.Request, sender: str) -> Notification | web.Response:
        notification = await self._service.find(request.match_info["id"])
        if notification is None or not may_change(notification, sender):
            return _problem(404, "no such notification")
        return notification

    async def edit(self, request: web.Request, sender: str) -> web.StreamResponse:
        """``PATCH``: new content for every copy, delivered or queued; 202 with the revision's number."""
        notification = await self._changeable(request, sender)
        if isinstance(notification, web.Response):
            return notification
        body = await _json_body(request)
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

    async def recall(self, request: web.Request, sender: str) -> web.StreamResponse:
        """``POST .../recall``: cancel what is queued; delete every copy, or replace it (``{"mode": "replace"}``)."""
        notification = await self._changeable(request, sender)
        if isinstance(notification, web.Response):
            return notification
        body = await _json_body(request, empty=None)
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

    async def recipients(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._service.owned(request.match_info["id"], sender)
        if notification is None:
            return _problem(404, "no such notification")
        state = request.query.get("state") or None
        if request.query.get("format") == "csv":
            return await self._csv(request, notification.id, state)
        page = await self._service.recipients(
            notification.id, state=state, after=request.query.get("cursor", ""), limit=PAGE_SIZE
        )
        items = [
            {
                "key": d.recipient_key,
                "recipient": d.recipient,
                "state": d.state.value,
                "reason": d.reason,
                "attempts": d.attempts,
                "revision": d.revision,
            }
            for d in page
        ]
        body: dict[str, Any] = {"recipients": items}
        if len(page) == PAGE_SIZE:
            body["next"] = f"/api/notifications/{notification.id}/recipients?cursor={page[-1].recipient_key}" + (
                f"&state={state}" if state else ""
            )
        return web.json_response(body)

    async def _csv(self, request: web.Request, notification_id: str, state: str | None) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="notification-{notification_id}.csv"',
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["recipient", "state", "reason", "attempts"])
        cursor = ""
        while page := await self._service.recipients(notification_id, state=state, after=cursor, limit=PAGE_SIZE):
            for d in page:
                writer.writerow([d.recipient_key, d.state.value, d.reason or "", d.attempts])
            await response.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
            cursor = page[-1].recipient_key
        await response.write_eof()
        return response

    async def cancel(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._service.owned(request.match_info["id"], sender)
        if notification is None:
            return _problem(404, "no such notification")
        cancelled = await self._service.cancel(notification)
        return web.json_response({"id": notification.id, "cancelled": cancelled})

    async def nudge(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._service.owned(request.match_info["id"], sender)
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


def install_api(app: web.Application, services: Services, service: OutreachService) -> None:
    """``/api/notifications``: API keys, and Entra tokens when an app id is configured."""
    settings = services.settings
    tokens = EntraTokenValidator(settings, ssl_context=client_ssl_context(settings)) if settings.app_id else None
    NotificationsApi(services, service, tokens).install(app)
