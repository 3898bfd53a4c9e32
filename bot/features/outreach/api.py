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
from urllib.parse import urlencode

from aiohttp import web

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
from bot.features.outreach.requests import InvalidRequest, parse_notification
from bot.features.outreach.service import Draft, NudgeRefused, OutreachService, Progress, new_notification_id
from bot.platform.http import client_ssl_context
from bot.platform.identity.tokens import EntraTokenValidator, TokenRejected
from bot.platform.messaging.engagement import EngagementFilter
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
    def __init__(
        self,
        services: Services,
        service: OutreachService,
        engagement: EngagementService,
        tokens: EntraTokenValidator | None = None,
    ) -> None:
        self._services = services
        self._service = service
        self._engagement = engagement
        self._tokens = tokens

    def install(self, app: web.Application) -> None:
        app.router.add_post("/api/notifications", self._guarded(self.create))
        app.router.add_get("/api/notifications/{id}", self._guarded(self.status))
        app.router.add_get("/api/notifications/{id}/recipients", self._guarded(self.recipients))
        app.router.add_get("/api/notifications/{id}/recipients.csv", self._guarded(self.recipients_csv))
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

    async def _draft(self, request: web.Request, sender: str) -> Draft | web.Response:
        """The notification the request asks for, or the problem answer."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _problem(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _problem(400, "the body is not JSON", "body")
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
        if request.query.get("engagement", "true").lower() not in {"false", "0", "no"}:  # cheaper polling without
            body["engagement"] = engagement_json(await self._engagement.totals(notification.id))
        return web.json_response(body)

    async def recipients(self, request: web.Request, sender: str) -> web.StreamResponse:
        notification = await self._service.owned(request.match_info["id"], sender)
        if notification is None:
            return _problem(404, "no such notification")
        try:
            where = parse_filter(request.query)
        except BadFilter as exc:
            return _problem(400, exc.message, exc.field)
        if request.query.get("format") == "csv":
            return await self._csv(request, notification.id, where)
        page = await self._engagement.recipients(
            notification.id, where=where, after=request.query.get("cursor", ""), limit=PAGE_SIZE
        )
        items = [
            {
                "key": e.delivery.recipient_key,
                "recipient": e.delivery.recipient,
                "state": e.delivery.state.value,
                "reason": e.delivery.reason,
                "attempts": e.delivery.attempts,
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

    async def recipients_csv(self, request: web.Request, sender: str) -> web.StreamResponse:
        """``/recipients.csv``: every recipient (with the listing's filters) streamed as CSV."""
        notification = await self._service.owned(request.match_info["id"], sender)
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


def install_api(
    app: web.Application, services: Services, service: OutreachService, engagement: EngagementService
) -> None:
    """``/api/notifications``: API keys, and Entra tokens when an app id is configured; and the click redirect."""
    settings = services.settings
    tokens = EntraTokenValidator(settings, ssl_context=client_ssl_context(settings)) if settings.app_id else None
    NotificationsApi(services, service, engagement, tokens).install(app)
    install_redirect(app, engagement)
