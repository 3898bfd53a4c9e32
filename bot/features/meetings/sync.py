"""Keeping meeting cards in step with the calendar when people change events outside Courier.

For each organizer Courier holds one Graph subscription to ``me/events`` (updated, deleted), renewed before it
expires by a ``meetings.renew`` job (one per organizer, while they have upcoming meetings). Graph POSTs changes to
``/api/graph/notifications``: the endpoint answers Graph's ``validationToken`` handshake, checks each notification's
``clientState`` in constant time, queues a ``meetings.refresh`` job for each meeting concerned and answers 202 at
once. The job brings the meeting up to date: a moved one gets its card redrawn with the new time, a cancelled or
deleted one is shown as cancelled. When notifications cannot reach Courier (no public URL, a firewall), the repeating
``meetings.reconcile`` job does the same every ten minutes by reading each upcoming meeting. A revoked sign-in or a
deleted event is handled quietly. All three are kinds of the platform's job scheduler: durable, and run once across
replicas.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.features.meetings.calendar import Calendar
from bot.features.meetings.cards import ACCENT, ATTENTION, MeetingCards, span
from bot.features.meetings.store import CANCELLED, CalendarSubscription, Meeting, MeetingStore
from bot.platform.graph.errors import GraphError
from bot.platform.http import BodyRefused, problem, read_json_body
from bot.platform.i18n import _
from bot.platform.identity.delegated import SignInRequired, UserRef
from bot.platform.jobs import Job, JobScheduler
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)

NOTIFICATION_PATH = "/api/graph/notifications"
MAX_BODY = 256 * 1024
# Graph batches a few notifications per request (it documents no maximum); more than this is not Graph.
MAX_NOTIFICATIONS = 100
RENEW = "meetings.renew"  # key: the organizer's user key
RECONCILE = "meetings.reconcile"  # one job
REFRESH = "meetings.refresh"  # key: the meeting's id
RECONCILE_KEY = "all"


@dataclass(frozen=True, slots=True)
class Subscribed:
    """How an attempt to hold a subscription ended: until when it holds, or whether to try again later."""

    expires: datetime | None
    retry: bool = False


class MeetingSync:
    def __init__(
        self,
        services: Services,
        store: MeetingStore,
        cards: MeetingCards,
        *,
        lifetime: timedelta = timedelta(days=2),
        renew_before: timedelta = timedelta(hours=12),
        interval: timedelta = timedelta(minutes=10),
    ) -> None:
        self._services = services
        self._store = store
        self._cards = cards
        self.lifetime = lifetime
        self.renew_before = renew_before
        self.interval = interval

    def declare_jobs(self, jobs: JobScheduler) -> None:
        jobs.handle(RENEW, self.renew)
        jobs.handle(RECONCILE, self.run_reconcile)
        jobs.handle(REFRESH, self.run_refresh)

    async def arm(self) -> None:
        """The reconcile runs every ``interval`` from start-up on (databases of the old layout have no job yet)."""
        if await self._services.jobs.get(RECONCILE, RECONCILE_KEY) is None:
            await self._services.jobs.schedule(RECONCILE, RECONCILE_KEY, self._services.clock() + self.interval)

    def _calendar(self, user: UserRef) -> Calendar | None:
        identity = self._services.identity
        caller = identity.as_user(user) if identity is not None else None
        return Calendar(caller) if caller is not None else None

    # -- subscriptions ----------------------------------------------------------------------------------
    async def track(self, organizer: UserRef) -> None:
        """A meeting was created for ``organizer``: hear of their calendar's changes, and look now and then."""
        subscribed = await self.subscribe(organizer)
        due = self._renewal_due(subscribed)
        if due is not None:
            payload = {"tenant": organizer.tenant_id, "user": organizer.aad_object_id}
            await self._services.jobs.schedule(
                RENEW, organizer.key, due, tenant_id=organizer.tenant_id, payload=payload
            )
        await self.arm()

    async def renew(self, job: Job) -> datetime | None:
        """The ``meetings.renew`` job: renew the organizer's subscription while they have upcoming meetings."""
        user = UserRef(str(job.payload["tenant"]), str(job.payload["user"]))
        if not await self._store.upcoming(user.tenant_id, user.aad_object_id.lower(), self._services.clock(), limit=1):
            return None  # nothing left to keep in step: the subscription lapses
        return self._renewal_due(await self.subscribe(user))

    def _renewal_due(self, subscribed: Subscribed) -> datetime | None:
        if subscribed.expires is not None:
            return subscribed.expires - self.renew_before
        return self._services.clock() + self.interval if subscribed.retry else None

    async def subscribe(self, user: UserRef) -> Subscribed:
        """Subscribe to the organizer's event changes, or renew the subscription when it is close to expiring."""
        public_url = self._services.settings.public_url
        calendar = self._calendar(user)
        if not public_url or calendar is None:
            return Subscribed(None)
        now = self._services.clock()
        existing = await self._store.subscription(user.key)
        if existing is not None and existing.expires - now > self.renew_before:
            return Subscribed(existing.expires)
        expires = now + self.lifetime
        try:
            if existing is not None and await calendar.renew(existing.id, expires):
                await self._store.save_subscription(user.key, dataclasses.replace(existing, expires=expires))
                return Subscribed(expires)
            if existing is not None:
                logger.info("a calendar subscription had expired; creating a new one")
            client_state = secrets.token_urlsafe(24)
            url = public_url.rstrip("/") + NOTIFICATION_PATH
            subscription_id = await calendar.subscribe(url, client_state, expires)
        except SignInRequired:
            return Subscribed(None)
        except GraphError as exc:
            logger.warning("could not subscribe to calendar changes (%s); the periodic reconcile covers it", exc.status)
            return Subscribed(None, retry=True)
        await self._store.save_subscription(user.key, CalendarSubscription(subscription_id, client_state, expires))
        return Subscribed(expires)

    # -- notifications ----------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Graph's change notifications: the handshake, or changes to queue (202 at once).

        Unauthenticated by nature, so cheap to refuse: the body is capped in size (413) and at
        :data:`MAX_NOTIFICATIONS` items (413), the subscriptions are looked up in one query, and an item whose
        ``clientState`` does not match is dropped before any other work."""
        token = request.query.get("validationToken")
        if token is not None:  # the subscription handshake: echo it, as plain text, at once
            return web.Response(text=token, content_type="text/plain")
        try:
            body = await read_json_body(request, MAX_BODY)
        except BodyRefused as refused:
            return refused.response()
        items = body.get("value")
        if not isinstance(items, list):
            return problem(400, "value must be the list of change notifications", "value")
        if len(items) > MAX_NOTIFICATIONS:
            return problem(413, f"at most {MAX_NOTIFICATIONS} notifications per request", "value")
        for item in await self._authentic(items):
            await self._notified(item)
        return web.Response(status=202)

    async def _authentic(self, items: list[Any]) -> list[dict[str, Any]]:
        """The items that name a subscription Courier holds with its ``clientState`` (compared in constant time)."""
        wanted = [i for i in items if isinstance(i, dict) and isinstance(i.get("subscriptionId"), str)]
        held = await self._store.subscription_owners([i["subscriptionId"] for i in wanted])
        authentic = []
        for item in wanted:
            owner = held.get(item["subscriptionId"])
            presented = item.get("clientState")
            if (
                owner is not None
                and isinstance(presented, str)
                and hmac.compare_digest(presented.encode(), owner[1].client_state.encode())
            ):
                authentic.append(item)
        if len(authentic) < len(items):
            logger.warning(
                "%d calendar notifications with an unknown subscription or a wrong clientState were ignored",
                len(items) - len(authentic),
            )
        return authentic

    async def _notified(self, item: dict[str, Any]) -> None:
        resource = item.get("resourceData")
        event_id = resource.get("id") if isinstance(resource, dict) else None
        meeting = await self._store.by_event(event_id) if isinstance(event_id, str) and event_id else None
        if meeting is None:
            return
        deleted = item.get("changeType") == "deleted"
        await self._services.jobs.schedule(
            REFRESH, meeting.id, self._services.clock(), tenant_id=meeting.tenant_id, payload={"deleted": deleted}
        )

    async def run_refresh(self, job: Job) -> datetime | None:
        """The ``meetings.refresh`` job a notification queued."""
        meeting = await self._store.get(job.key)
        if meeting is not None:
            await self.refresh(meeting, deleted=bool(job.payload.get("deleted")))
        return None

    # -- refreshing a meeting ---------------------------------------------------------------------------
    async def refresh(self, meeting: Meeting, *, deleted: bool = False) -> str | None:
        """Bring one meeting's row and card up to date with its event; returns what changed, if anything."""
        change = "cancelled" if deleted else await self._compare(meeting)
        now = self._services.clock()
        if change == "moved":
            updated = await self._store.get(meeting.id) or meeting
            note = _("Moved in Outlook or Teams to {span}.", span=span(updated.start_at, updated.end_at, updated.zone))
            await self._redraw(updated, note, ACCENT)
        elif change == "cancelled":
            if meeting.status == CANCELLED:
                return None
            await self._store.set_status(meeting.id, CANCELLED, now)
            updated = await self._store.get(meeting.id) or meeting
            await self._redraw(updated, _("Cancelled in Outlook or Teams."), ATTENTION)
        return change

    async def _compare(self, meeting: Meeting) -> str | None:
        """ "moved" (and the row updated), "cancelled", or None: unchanged or unknown (sign-in gone, Graph failing)."""
        calendar = self._calendar(UserRef(meeting.tenant_id, meeting.organizer_id))
        if calendar is None:
            return None
        try:
            event = await calendar.get(meeting.event_id)
        except SignInRequired:
            logger.info("the organizer's sign-in is gone; their meeting cards stay as they are")
            return None
        except GraphError as exc:
            logger.info("could not read an event to sync its card (%s)", exc.status)
            return None
        if event is None or event.cancelled:
            return "cancelled"
        if (event.start, event.end) == (meeting.start_at, meeting.end_at):
            return None
        await self._store.moved(meeting.id, event.start, event.end, self._services.clock())
        return "moved"

    async def _redraw(self, meeting: Meeting, note: str, color: str) -> None:
        proactive = self._services.proactive
        if proactive is None or not meeting.conversation_id or not meeting.card_activity_id:
            return
        card = self._cards.meeting(meeting, meeting.zone, note=note, color=color)
        try:
            await proactive.update(meeting.conversation_id, meeting.card_activity_id, Message(card=card))
        except NotDeliverable as exc:
            logger.info("could not update a meeting card: %s", exc)
        except Exception:
            logger.exception("updating a meeting card failed")

    # -- the periodic reconcile -------------------------------------------------------------------------
    async def reconcile(self) -> int:
        """The fallback when notifications cannot arrive: read every upcoming meeting; returns how many changed."""
        changed = 0
        for meeting in await self._store.upcoming_all(self._services.clock(), limit=500):
            if await self.refresh(meeting):
                changed += 1
        return changed

    async def run_reconcile(self, job: Job) -> datetime | None:
        """The repeating ``meetings.reconcile`` job."""
        changed = await self.reconcile()
        if changed:
            logger.info("calendar reconcile updated %d meeting cards", changed)
        return self._services.clock() + self.interval
