"""Watching room devices: the rules, apart from Teams.

A watched tenant's rooms are checked every ``COURIER_ROOM_CHECK_SECONDS`` (a ``rooms.check`` job of the platform's
scheduler, one per tenant, so one replica checks at a time): one presence request per 650 rooms. A room seen
``Offline`` is noted with the time it was first seen so; once that is ``COURIER_ROOM_OFFLINE_MINUTES`` ago, its alert
opens (claimed in the store, at most one open per room, see :mod:`bot.features.rooms.store`) and its card is posted
to the watching channel. When the room is seen back (any known availability but Offline), the same card is updated
in place with the outage's length and the alert closes. The room list itself is re-read from Graph hourly.
A ``rooms.summary`` job posts, once a day, the rooms that had outages in the last 24 hours.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.features.rooms.cards import RoomCards, outage
from bot.features.rooms.directory import OFFLINE, PLACES, app_graph, list_rooms, presences
from bot.features.rooms.store import POSTED, Alert, RoomNow, RoomState, RoomStore, Watch
from bot.platform.graph.client import GraphCaller
from bot.platform.graph.errors import GraphError, PermissionDenied
from bot.platform.jobs import Job
from bot.platform.services import Services
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)

CHECK = "rooms.check"  # key: the tenant id
SUMMARY = "rooms.summary"  # key: the tenant id
ROOMS_REFRESH = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=2)
RETRY_WITHOUT_PERMISSION = timedelta(hours=1)
UNKNOWN = "PresenceUnknown"


class RoomsUnavailable(Exception):
    """Why rooms can't be read here (no Graph, or a permission missing), in words for a card."""


class RoomWatcher:
    def __init__(self, services: Services, store: RoomStore, cards: RoomCards) -> None:
        self._services = services
        self._store = store
        self._cards = cards
        self.owner = uuid.uuid4().hex  # this replica, for alert claims
        settings = services.settings
        self.threshold = timedelta(minutes=settings.room_offline_minutes)
        self.interval = timedelta(seconds=settings.room_check_seconds)

    @property
    def _clock(self) -> Callable[[], datetime]:
        return self._services.clock

    def declare_jobs(self) -> None:
        self._services.jobs.handle(CHECK, self.run_check)
        self._services.jobs.handle(SUMMARY, self.run_summary)

    def _graph(self, tenant_id: str) -> GraphCaller:
        graph = app_graph(self._services.identity, tenant_id)
        if graph is None:
            raise RoomsUnavailable("Courier has no Graph access here (no app credential), so it can't read rooms.")
        return graph

    # -- the watch ------------------------------------------------------------------------------------
    async def watch(self, tenant_id: str, conversation_id: str, user_id: str) -> int:
        """Watch the tenant's rooms from this conversation; how many rooms there are. RoomsUnavailable when they
        can't be read (nothing is watched then)."""
        now = self._clock()
        try:
            rooms = await list_rooms(self._graph(tenant_id))
        except PermissionDenied:
            raise RoomsUnavailable(f"Courier may not read rooms yet ({PLACES}). Type permissions.") from None
        await self._store.watch(tenant_id, conversation_id, user_id, now)
        await self._store.replace_rooms(tenant_id, [(r.id, r.email, r.name) for r in rooms], now)
        jobs = self._services.jobs
        await jobs.schedule(CHECK, tenant_id, now, tenant_id=tenant_id)
        if await jobs.get(SUMMARY, tenant_id) is None:
            await jobs.schedule(SUMMARY, tenant_id, now + timedelta(days=1), tenant_id=tenant_id)
        return len(rooms)

    async def unwatch(self, tenant_id: str) -> bool:
        await self._services.jobs.cancel(CHECK, tenant_id)
        await self._services.jobs.cancel(SUMMARY, tenant_id)
        return await self._store.unwatch(tenant_id)

    # -- the check ------------------------------------------------------------------------------------
    async def run_check(self, job: Job) -> datetime | None:
        """The ``rooms.check`` job: read presence, open and close alerts; when to check next (None: unwatched)."""
        watch = await self._store.get_watch(job.key)
        if watch is None:
            return None
        now = self._clock()
        try:
            rooms = await self._read(watch, now)
        except (RoomsUnavailable, PermissionDenied) as exc:
            logger.warning("rooms: can't read rooms or their presence (%s); trying again in an hour", exc)
            return now + RETRY_WITHOUT_PERMISSION
        except GraphError as exc:
            logger.info("rooms: Graph failed during a check (%s); trying again at the next check", exc.status)
            return now + self.interval
        await self._alerts(watch, rooms, now)
        return self._next_check(rooms, now)

    async def _read(self, watch: Watch, now: datetime) -> list[RoomState]:
        graph = self._graph(watch.tenant_id)
        if watch.rooms_refreshed_at is None or now - watch.rooms_refreshed_at >= ROOMS_REFRESH:
            listed = await list_rooms(graph)
            await self._store.replace_rooms(watch.tenant_id, [(r.id, r.email, r.name) for r in listed], now)
        known = await self._store.rooms(watch.tenant_id)
        seen = await presences(graph, [r.room_id for r in known])
        rooms = [_observed(room, seen.get(room.room_id.lower(), UNKNOWN), now) for room in known]
        await self._store.save_presence(watch.tenant_id, rooms, now)
        return rooms

    def _next_check(self, rooms: Sequence[RoomState], now: datetime) -> datetime:
        """The next check: after the interval, or sooner when an offline room reaches the threshold before it."""
        due = now + self.interval
        for room in rooms:
            if room.offline_since is not None and room.offline_since + self.threshold > now:
                due = min(due, room.offline_since + self.threshold)
        return max(due, now + timedelta(seconds=1))

    async def _alerts(self, watch: Watch, rooms: Sequence[RoomState], now: datetime) -> None:
        open_alerts = await self._store.open_alerts(watch.tenant_id)
        for room in rooms:
            alert = open_alerts.get(room.room_id)
            if alert is None and room.availability == OFFLINE and self._overdue(room, now):
                await self._open(watch, room, now)
            elif alert is not None and room.availability not in (OFFLINE, UNKNOWN):
                await self._close(alert, now)

    def _overdue(self, room: RoomState, now: datetime) -> bool:
        return room.offline_since is not None and now - room.offline_since >= self.threshold

    async def _open(self, watch: Watch, room: RoomState, now: datetime) -> None:
        alert = await self._store.claim_alert(watch, room, self.owner, now, CLAIM_LEASE)
        if alert is None or not await self._store.mark_sending(alert.id, self.owner):
            return  # open already, or another replica holds it
        activity_id = await self._post(watch.conversation_id, self._cards.offline(alert, now))
        await self._store.mark_posted(alert.id, activity_id)
        logger.info("rooms: a room has been offline past the threshold; alert posted")

    async def _close(self, alert: Alert, now: datetime) -> None:
        if alert.state == POSTED and alert.activity_id:
            card = self._cards.back(alert, now, outage(alert.offline_since, now))
            await self._update(alert.conversation_id, alert.activity_id, card)
        if await self._store.close_alert(alert.id, now):
            logger.info("rooms: a room is back; its alert was closed")

    async def _post(self, conversation_id: str, card: dict[str, object]) -> str | None:
        proactive = self._services.proactive
        if proactive is None:
            return None
        try:
            return await proactive.send(conversation_id, Message(card=card))
        except Exception as exc:  # maybe delivered: never sent twice, the alert stays open
            logger.warning("rooms: posting an alert failed (%s); it is not sent again", type(exc).__name__)
            return None

    async def _update(self, conversation_id: str, activity_id: str, card: dict[str, object]) -> None:
        proactive = self._services.proactive
        if proactive is None:
            return
        try:
            await proactive.update(conversation_id, activity_id, Message(card=card))
        except Exception as exc:
            logger.warning("rooms: updating an alert in place failed (%s)", type(exc).__name__)

    # -- the summary and the status -----------------------------------------------------------------------
    async def run_summary(self, job: Job) -> datetime | None:
        """The daily ``rooms.summary`` job: the rooms with outages in the last 24 hours (nothing when none)."""
        watch = await self._store.get_watch(job.key)
        if watch is None:
            return None
        now = self._clock()
        alerts = await self._store.alerts_since(watch.tenant_id, now - timedelta(days=1))
        if alerts:
            await self._post(watch.conversation_id, self._cards.summary(alerts, now))
        return now + timedelta(days=1)

    async def status(self, tenant_id: str) -> list[RoomNow]:
        """Every room now: a fresh presence read (the stored rooms when watched, else Graph's list)."""
        graph = self._graph(tenant_id)
        try:
            stored = await self._store.rooms(tenant_id)
            names = {r.room_id: (r.name, r.offline_since) for r in stored}
            if not names:
                names = {r.id: (r.name, None) for r in await list_rooms(graph)}
            seen = await presences(graph, list(names))
        except PermissionDenied as exc:
            raise RoomsUnavailable(f"Courier may not read rooms or presence yet ({exc.permission}).") from None
        rooms = [RoomNow(name, seen.get(rid.lower(), UNKNOWN), since) for rid, (name, since) in names.items()]
        return sorted(rooms, key=lambda r: (r.availability != OFFLINE, r.name.lower()))


def _observed(room: RoomState, availability: str, now: datetime) -> RoomState:
    """The room as just seen: ``offline_since`` kept from the first check that saw it Offline."""
    if availability == OFFLINE:
        return replace(room, availability=availability, offline_since=room.offline_since or now)
    if availability == UNKNOWN:
        return replace(room, availability=availability)  # unknown says nothing about the device: keep what we know
    return replace(room, availability=availability, offline_since=None)
