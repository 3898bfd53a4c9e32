"""Keeping meeting cards in step with the calendar when people change events outside Courier.

For each organizer Courier holds one Graph subscription to ``me/events`` (updated, deleted), renewed before it
expires. Graph POSTs changes to ``/api/graph/notifications``: the endpoint answers Graph's ``validationToken``
handshake, checks each notification's ``clientState`` in constant time, answers 202 at once, and then refreshes the
meetings concerned: moved ones get their card redrawn with the new time, cancelled or deleted ones are shown as
cancelled. When notifications cannot reach Courier (no public URL, a firewall), a periodic reconcile does the same
by reading each upcoming meeting. A revoked sign-in or a deleted event is handled quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.features.meetings.calendar import PERMISSION, Calendar
from bot.features.meetings.cards import meeting_card, span
from bot.features.meetings.store import CANCELLED, Meeting, MeetingStore
from bot.platform.graph.client import GraphCaller
from bot.platform.graph.errors import GraphError, NotFound
from bot.platform.identity.delegated import SignInRequired, UserRef
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)

SUBSCRIPTIONS = "graph_subscription"  # user key -> {id, client_state, expires}
OWNERS = "graph_subscription_owner"  # subscription id -> user key
NOTIFICATION_PATH = "/api/graph/notifications"
MAX_BODY = 1024 * 1024


class MeetingSync:
    def __init__(
        self,
        services: Services,
        *,
        lifetime: timedelta = timedelta(days=2),
        renew_before: timedelta = timedelta(hours=12),
        interval: float = 600.0,
    ) -> None:
        self._services = services
        self._store = services.store
        self._lifetime = lifetime
        self._renew_before = renew_before
        self._interval = interval
        self._tasks: set[asyncio.Task[str | None]] = set()

    def _caller(self, user: UserRef) -> GraphCaller | None:
        identity = self._services.identity
        return identity.as_user(user) if identity is not None else None

    # -- subscriptions ----------------------------------------------------------------------------------
    async def ensure_subscription(self, user: UserRef) -> None:
        """Subscribe to the organizer's event changes, or renew the subscription when it is close to expiring."""
        settings = self._services.settings
        caller = self._caller(user)
        if not settings.public_url or caller is None:
            return
        now = self._services.clock()
        existing = await self._store.get_value(SUBSCRIPTIONS, user.key)
        expires = now + self._lifetime
        stamp = expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            if existing and datetime.fromisoformat(existing["expires"]) - now > self._renew_before:
                return
            if existing:
                try:
                    await caller.patch(
                        f"/subscriptions/{existing['id']}", {"expirationDateTime": stamp}, permission=PERMISSION
                    )
                    await self._store.put_value(SUBSCRIPTIONS, user.key, {**existing, "expires": expires.isoformat()})
                    return
                except NotFound:
                    logger.info("a calendar subscription had expired; creating a new one")
            client_state = secrets.token_urlsafe(24)
            body = {
                "changeType": "updated,deleted",
                "notificationUrl": settings.public_url.rstrip("/") + NOTIFICATION_PATH,
                "resource": "me/events",
                "expirationDateTime": stamp,
                "clientState": client_state,
            }
            created = await caller.post("/subscriptions", body, permission=PERMISSION)
        except SignInRequired:
            return
        except GraphError as exc:
            logger.warning("could not subscribe to calendar changes (%s); the periodic reconcile covers it", exc.status)
            return
        record = {"id": created["id"], "client_state": client_state, "expires": expires.isoformat()}
        await self._store.put_value(SUBSCRIPTIONS, user.key, record)
        await self._store.put_value(OWNERS, str(created["id"]), user.key)

    # -- notifications ----------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("validationToken")
        if token is not None:  # the subscription handshake: echo it, as plain text, at once
            return web.Response(text=token, content_type="text/plain")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        for item in body.get("value", []) if isinstance(body, dict) else []:
            if not isinstance(item, dict):
                continue
            owner = await self._store.get_value(OWNERS, str(item.get("subscriptionId", "")))
            record = await self._store.get_value(SUBSCRIPTIONS, str(owner)) if owner else None
            presented = str(item.get("clientState") or "")
            if not record or not hmac.compare_digest(presented.encode(), str(record["client_state"]).encode()):
                logger.warning(
                    "a calendar notification with an unknown subscription or a wrong clientState was ignored"
                )
                continue
            event_id = str((item.get("resourceData") or {}).get("id", ""))
            meeting = await MeetingStore(self._store.db).by_event(event_id)
            if meeting is None:
                continue
            deleted = item.get("changeType") == "deleted"
            task = asyncio.create_task(self.refresh(meeting, deleted=deleted))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def settle(self) -> None:
        """Wait for the refreshes that notifications started (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- refreshing a meeting ---------------------------------------------------------------------------
    async def refresh(self, meeting: Meeting, *, deleted: bool = False) -> str | None:
        """Bring one meeting's row and card up to date with its event; returns what changed, if anything."""
        now = self._services.clock()
        change: str | None = None
        updated = meeting
        if deleted:
            change = "cancelled"
        else:
            caller = self._caller(UserRef(meeting.tenant_id, meeting.organizer_id))
            if caller is None:
                return None
            calendar = Calendar(caller)
            try:
                event = await calendar.get(meeting.event_id)
            except SignInRequired:
                logger.info("the organizer's sign-in is gone; their meeting cards stay as they are")
                return None
            except GraphError as exc:
                logger.info("could not read an event to sync its card (%s)", exc.status)
                return None
            if event is None or event.cancelled:
                change = "cancelled"
            elif (event.start, event.end) != (meeting.start_at, meeting.end_at):
                change = "moved"
                await MeetingStore(self._store.db).moved(meeting.id, event.start, event.end, now)
                updated = await MeetingStore(self._store.db).get(meeting.id) or meeting
        if change is None:
            return None
        if change == "cancelled":
            if meeting.status == CANCELLED:
                return None
            await MeetingStore(self._store.db).set_status(meeting.id, CANCELLED, now)
            updated = await MeetingStore(self._store.db).get(meeting.id) or meeting
            note, color = "Cancelled in Outlook or Teams.", "Attention"
        else:
            note, color = (
                f"Moved in Outlook or Teams to {span(updated.start_at, updated.end_at, updated.zone)}.",
                "Accent",
            )
        await self._redraw(updated, note, color)
        return change

    async def _redraw(self, meeting: Meeting, note: str, color: str) -> None:
        proactive = self._services.proactive
        if proactive is None or not meeting.conversation_id or not meeting.card_activity_id:
            return
        card = meeting_card(
            self._services.cards, self._services.settings.app_name, meeting, meeting.zone, note=note, color=color
        )
        try:
            await proactive.update(meeting.conversation_id, meeting.card_activity_id, Message(card=card))
        except NotDeliverable as exc:
            logger.info("could not update a meeting card: %s", exc)
        except Exception:
            logger.exception("updating a meeting card failed")

    async def reconcile(self) -> int:
        """The fallback when notifications cannot arrive: read every upcoming meeting; returns how many changed."""
        changed = 0
        now = self._services.clock()
        owners: set[tuple[str, str]] = set()
        for meeting in await MeetingStore(self._store.db).upcoming_all(now, limit=500):
            owners.add((meeting.tenant_id, meeting.organizer_id))
            if await self.refresh(meeting):
                changed += 1
        for tenant, organizer in owners:
            await self.ensure_subscription(UserRef(tenant, organizer))
        return changed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
            if stop.is_set():
                break
            try:
                changed = await self.reconcile()
                if changed:
                    logger.info("calendar reconcile updated %d meeting cards", changed)
            except Exception:
                logger.exception("calendar reconcile failed; trying again later")
