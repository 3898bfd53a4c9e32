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
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.features.outreach.nudge import NudgeRefused, nudge
from bot.features.outreach.requests import InvalidRequest, parse_notification
from bot.platform.http import client_ssl_context
from bot.platform.identity.tokens import EntraTokenValidator, TokenRejected
from bot.platform.messaging.ledger import Notification, OutreachLedger
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


def with_ack(card: dict[str, Any], notification_id: str) -> dict[str, Any]:
    """The card plus an Acknowledge button; the click is attributed to whoever clicks (from.aadObjectId)."""
    action = {
        "type": "Action.Execute",
        "title": "Acknowledge",
        "verb": "ack",
        "style": "positive",
        "data": {"verb": "ack", "notification": notification_id},
    }
    return {**card, "actions": [*card.get("actions", []), action]}


def _summary(notification: Notification, totals: dict[str, int], first: Any, last: Any) -> dict[str, Any]:
    sent = totals.get("sent", 0)
    seconds = (last - first).total_seconds() if first and last else 0.0
    return {
        "id": notification.id,
        "status": notification.status,
        "tenantId": notification.tenant_id,
        "ackRequired": notification.ack_required,
        "createdAt": notification.created_at.isoformat(),
        "sendAt": notification.send_at.isoformat(),
        "firstSentAt": first.isoformat() if first else None,
        "lastSentAt": last.isoformat() if last else None,
        "throughputPerSecond": round(sent / seconds, 2) if seconds > 0 else None,
        "totals": totals,
    }


class NotificationsApi:
    def __init__(self, services: Services, wake: Callable[[], None], tokens: EntraTokenValidator | None = None) -> None:
        self._services = services
        self._tokens = tokens
        self._ledger = OutreachLedger(services.store.db)
        self._wake = wake

    def install(self, app: web.Application) -> None:
        app.router.add_post("/api/notifications", self._guarded(self.create))
        app.router.add_get("/api/notifications/{id}", self._guarded(self.status))
        app.router.add_get("/api/notifications/{id}/recipients", self._guarded(self.recipients))
        app.router.add_delete("/api/notifications/{id}", self._guarded(self.cancel))
        app.router.add_post("/api/notifications/{id}/nudge", self._guarded(self.nudge))

    def _guarded(self, handler: Callable[[web.Request, str], Awaitable[web.StreamResponse]]) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            sender = await authenticated_sender(self._services, self._tokens, request)
            if sender is None:
                return _problem(
                    401, "a valid API key or Entra access token is required: Authorization: Bearer <key or token>"
                )
            return await handler(request, sender)

        return wrapper

    async def create(self, request: web.Request, sender: str) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _problem(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _problem(400, "the body is not JSON", "body")
        try:
            parsed = parse_notification(
                body,
                cards=self._services.cards,
                default_tenant=self._services.settings.app_tenant_id or "",
                allowed_tenants=self._services.settings.allowed_tenants,
            )
        except InvalidRequest as exc:
            return _problem(400, exc.message, exc.field)
        tenant_id = parsed.tenant_id or await self._tenant_of_conversations(parsed.recipients)
        if not tenant_id:
            return _problem(
                400, "is required: no MicrosoftAppTenantId is set and the recipients do not name a tenant", "tenantId"
            )
        now = self._services.clock()
        notification_id = uuid.uuid4().hex
        card = with_ack(parsed.card, notification_id) if parsed.ack_required else parsed.card
        notification, created = await self._ledger.create_notification(
            tenant_id=tenant_id,
            sender=sender,
            idempotency_key=parsed.idempotency_key,
            card=card,
            ack_required=parsed.ack_required,
            send_at=parsed.send_at or now,
            now=now,
            recipients=parsed.recipients,
            notification_id=notification_id,
        )
        if created:
            logger.info("notification queued for %d recipients", len(parsed.recipients))
            self._wake()
        return web.json_response(
            {"id": notification.id, "status": f"/api/notifications/{notification.id}", "created": created}, status=202
        )

    async def _tenant_of_conversations(self, recipients: list[tuple[str, dict[str, Any]]]) -> str:
        """The one tenant of the stored conversations named as recipients ("" when none or several)."""
        tenants = set()
        for _, recipient in recipients:
            if "conversationId" not in recipient:
                return ""
            record = await self._services.store.get_conversation(str(recipient["conversationId"]))
            if record is None:
                return ""
            tenants.add(record.tenant_id)
        return tenants.pop() if len(tenants) == 1 else ""

    async def _owned(self, request: web.Request, sender: str) -> Notification | None:
        notification = await self._ledger.get_notification(request.match_info["id"])
        if notification is None or notification.sender != sender:
            return None
        return notification

    async def status(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._owned(request, sender)
        if notification is None:
            return _problem(404, "no such notification")
        first, last = await self._ledger.timing(notification.id)
        return web.json_response(_summary(notification, await self._ledger.totals(notification.id), first, last))

    async def recipients(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._owned(request, sender)
        if notification is None:
            return _problem(404, "no such notification")
        state = request.query.get("state") or None
        if request.query.get("format") == "csv":
            return await self._csv(request, notification.id, state)
        page = await self._ledger.page(
            notification.id, state=state, after=request.query.get("cursor", ""), limit=PAGE_SIZE
        )
        items = [
            {
                "key": d.recipient_key,
                "recipient": d.recipient,
                "state": d.state.value,
                "reason": d.reason,
                "attempts": d.attempts,
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
        while page := await self._ledger.page(notification_id, state=state, after=cursor, limit=PAGE_SIZE):
            for d in page:
                writer.writerow([d.recipient_key, d.state.value, d.reason or "", d.attempts])
            await response.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
            cursor = page[-1].recipient_key
        await response.write_eof()
        return response

    async def cancel(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._owned(request, sender)
        if notification is None:
            return _problem(404, "no such notification")
        cancelled = await self._ledger.cancel(notification.id, self._services.clock())
        return web.json_response({"id": notification.id, "cancelled": cancelled})

    async def nudge(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._owned(request, sender)
        if notification is None:
            return _problem(404, "no such notification")
        try:
            done = await nudge(self._ledger, notification, self._services.clock())
        except NudgeRefused as exc:
            response = _problem(409, exc.message)
            if exc.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, int(exc.retry_after.total_seconds())))
            return response
        if done.nudge is None:
            return web.json_response({"id": None, "recipients": 0, "message": "everyone has acknowledged"})
        self._wake()
        return web.json_response(
            {"id": done.nudge.id, "recipients": done.recipients, "status": f"/api/notifications/{done.nudge.id}"},
            status=202,
        )


def setup_outreach_routes(app: web.Application, services: Services, wake: Callable[[], None]) -> None:
    settings = services.settings
    tokens = EntraTokenValidator(settings, ssl_context=client_ssl_context(settings)) if settings.app_id else None
    NotificationsApi(services, wake, tokens).install(app)
