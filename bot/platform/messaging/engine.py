"""The delivery engine: claims due deliveries from the ledger and sends each exactly once, as fast as Teams allows.

One engine per process; several processes (replicas) can share a PostgreSQL ledger. Per delivery:
claim -> resolve the conversation -> wait for the tenant and conversation limits -> mark *sending* (committed) ->
send -> record the outcome. Outcomes follow the failure classes of :mod:`bot.platform.teams.connector`:
retry (412/429/502/504, honouring Retry-After; a 429 pauses the whole tenant), permanent (blocked, uninstalled,
tenant disabled: stop), maybe delivered (any other failure after the request left: record, never resend), not sent
(no connection: retry). A send a crash interrupted (committed *sending*, outcome unknown) is reconciled when a
``reconciler`` is given: its copy is looked for in the chat (see :mod:`bot.platform.messaging.reconcile`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.platform.graph.errors import GraphError
from bot.platform.messaging.groupcommit import Batcher
from bot.platform.messaging.ledger import Delivery, DeliveryState, Operation, OutreachLedger
from bot.platform.messaging.localtime import LocalDue, parse_wall
from bot.platform.messaging.operations import OperationActivities, OperationApplier, card_activity
from bot.platform.messaging.ratelimit import ConversationLimiter, Lane, TenantLimiter
from bot.platform.messaging.reconcile import Arrival, Reconciler, with_marker
from bot.platform.storage.base import Store
from bot.platform.teams.connector import BotConnector, ConnectorFailure, FailureKind, SendFailure
from bot.platform.telemetry import Telemetry
from bot.platform.waiting import first_of

logger = logging.getLogger(__name__)
RECONCILE_WINDOW = timedelta(hours=1)  # older interrupted sends stay maybe delivered


class NotInstalled(SendFailure):
    """The recipient cannot be reached at all (Courier not installed for them, unknown conversation, no permission
    to look them up); ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, "NotInstalled", reason, FailureKind.PERMANENT, None, reason)


@dataclass(frozen=True, slots=True)
class Target:
    service_url: str
    conversation_id: str


class Resolver(Protocol):
    async def prefetch(self, deliveries: Sequence[Delivery]) -> None:
        """Look up what a claimed batch needs in one go (an optimisation; ``resolve`` must work without it)."""
        ...

    async def resolve(self, delivery: Delivery) -> Target: ...


class MemberPages(Protocol):
    async def page(self, delivery: Delivery, cursor: str | None) -> tuple[list[str], str | None]:
        """Entra object ids of one page of a team's or group's members, and the cursor of the next page (None at
        the end). Raises :class:`NotInstalled` with a reason when the members cannot be read at all."""
        ...


Activity = Callable[[Delivery], Awaitable[dict[str, Any]]]
# A feature's per-delivery change to a notification's card (e.g. links signed for this recipient): a new card, or
# None to send the stored one. It must not change the card it is given.
CardHook = Callable[[Delivery, dict[str, Any]], dict[str, Any] | None]
# (tenant, UPN or email) -> Entra object id; raises NotInstalled with the reason when it cannot.
UserLookup = Callable[[str, str], Awaitable[str]]


class FeedNotifier(Protocol):
    async def notify(self, delivery: Delivery) -> None:
        """After a chat copy was sent: its activity-feed notification, when the notification asks for one. Records
        its own outcome and raises nothing."""
        ...


class Installer(Protocol):
    async def install(self, tenant_id: str, user_id: str) -> None:
        """Install Courier for the user (done already is fine); NotInstalled with the reason when it cannot."""
        ...


NOT_INSTALLED_REASONS = frozenset({"not_installed", "forbidden", "uninstalled"})


class StoredConversationResolver:
    """Where to send: a stored conversation reference, else a new 1:1 conversation through the connector."""

    def __init__(
        self,
        store: Store,
        connector: BotConnector,
        *,
        bot_id: str,
        service_url: str,
        lookup_user: UserLookup | None = None,
        installer: Installer | None = None,
        tenants: TenantLimiter | None = None,
    ) -> None:
        self._installer = installer
        self._tenants = tenants  # creating a conversation is a request like a send: it waits for the tenant's pace
        self._store = store
        self._connector = connector
        self._bot_id = bot_id
        self._service_url = service_url
        self._lookup_user = lookup_user
        self._known: dict[tuple[str, str], Target] = {}

    async def prefetch(self, deliveries: Sequence[Delivery]) -> None:
        """Stored 1:1 conversations of a claimed batch's users, one query per tenant instead of one per user."""
        if len(self._known) > 20_000:  # entries are popped on use; this only bounds leftovers
            self._known.clear()
        users: dict[str, list[str]] = {}
        for delivery in deliveries:
            if "userId" in delivery.recipient:
                users.setdefault(delivery.tenant_id, []).append(str(delivery.recipient["userId"]))
        for tenant, ids in users.items():
            for user, record in (await self._store.find_personal_conversations(tenant, ids)).items():
                self._known[(tenant, user)] = Target(record.service_url, record.conversation_id)

    async def resolve(self, delivery: Delivery) -> Target:
        recipient = delivery.recipient
        tenant = delivery.tenant_id
        if "conversationId" in recipient:
            record = await self._store.get_conversation(str(recipient["conversationId"]))
            if record is None or not record.active:
                raise NotInstalled("conversation_unknown")
            return Target(record.service_url, record.conversation_id)
        if "channel" in recipient:
            channel = recipient["channel"]
            record = await self._store.find_channel_conversation(
                tenant, str(channel["teamId"]), str(channel["channelId"])
            )
            if record is None:
                raise NotInstalled("not_installed_in_team")
            return Target(record.service_url, record.conversation_id)
        if "upn" in recipient:
            if self._lookup_user is None:
                raise NotInstalled("upn_needs_graph")
            found = await self._lookup_user(tenant, str(recipient["upn"]))
            recipient = {"userId": found}
        if "userId" in recipient:
            user = str(recipient["userId"])
            known = self._known.pop((tenant, user), None)
            if known is not None:
                return known
            record = await self._store.find_personal_conversation(tenant, user)
            if record is not None:
                return Target(record.service_url, record.conversation_id)
            try:
                conversation_id = await self._create(tenant, user, Lane(delivery.lane))
            except ConnectorFailure as failure:
                if failure.kind is not FailureKind.PERMANENT:
                    raise
                if self._installer is None or failure.reason not in NOT_INSTALLED_REASONS:
                    raise NotInstalled(failure.reason or "not_installed") from failure
                # Not installed for this user: install Courier through Graph, then the conversation can exist.
                await self._installer.install(tenant, user)
                try:
                    conversation_id = await self._create(tenant, user, Lane(delivery.lane))
                except ConnectorFailure as again:
                    if again.kind is FailureKind.PERMANENT:
                        raise NotInstalled(f"{again.reason or 'not_installed'}:after_install") from again
                    raise
            return Target(self._service_url, conversation_id)
        raise NotInstalled("unsupported_recipient")

    async def _create(self, tenant: str, user: str, lane: Lane) -> str:
        if self._tenants is not None:
            await self._tenants.acquire(tenant, lane)
            await self._tenants.depart(tenant)
        return await self._connector.create_personal_conversation(
            self._service_url, tenant_id=tenant, user_id=user, bot_id=self._bot_id
        )


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A delivery whose storage write failed half-way, and what its engine knows about its request."""

    delivery: Delivery
    request_left: bool  # the request was sent (its answer may be unknown)
    sent: tuple[str, str | None] | None = None  # the connector accepted it: (conversation id, activity id)


class NotificationActivities:
    """The outbound activity for a delivery: its notification's card at the revision the delivery was claimed with
    (see :meth:`OutreachLedger.claim_due`), cached per (notification, revision), then each card hook's change for
    this delivery (see :meth:`add_card_hook`)."""

    def __init__(self, store: Store, *, cache_size: int = 256) -> None:
        self._ledger = OutreachLedger(store.db)
        self._cache: dict[tuple[str, int], dict[str, Any]] = {}
        self._size = cache_size
        self._hooks: list[CardHook] = []

    def add_card_hook(self, hook: CardHook) -> None:
        self._hooks.append(hook)

    async def __call__(self, delivery: Delivery) -> dict[str, Any]:
        activity = await self._shared(delivery)
        if not self._hooks:
            return activity
        card = activity["attachments"][0]["content"]
        for hook in self._hooks:
            card = hook(delivery, card) or card
        if card is activity["attachments"][0]["content"]:
            return activity
        return {**activity, "attachments": [{**activity["attachments"][0], "content": card}]}

    async def _shared(self, delivery: Delivery) -> dict[str, Any]:
        key = (delivery.notification_id, delivery.revision)
        activity = self._cache.get(key)
        if activity is None:
            notification = await self._ledger.get_notification(delivery.notification_id)
            if notification is None:
                raise NotInstalled("notification_missing")
            card = notification.card
            if notification.revision != delivery.revision:
                card = await self._ledger.operations.revision_card(delivery.notification_id, delivery.revision) or card
            activity = card_activity(card)
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = activity
        return activity


class OutreachEngine:
    def __init__(
        self,
        store: Store,
        connector: BotConnector,
        resolver: Resolver,
        activity_for: Activity,
        *,
        clock: Callable[[], datetime],
        tenant_limiter: TenantLimiter | None = None,
        conversation_limiter: ConversationLimiter | None = None,
        concurrency: int = 32,
        batch_size: int = 200,
        lease: timedelta = timedelta(minutes=2),
        max_attempts: int = 8,
        idle_poll: float = 1.0,
        members: MemberPages | None = None,
        engine_id: str | None = None,
        recover_every: float = 15.0,
        local_due: LocalDue | None = None,
        feed: FeedNotifier | None = None,
        feed_concurrency: int = 64,
        telemetry: Telemetry | None = None,
        operation_activities: OperationActivities | None = None,
        service_url: str = "",
        bulk_share: int | None = None,
        reconciler: Reconciler | None = None,
        reconcile_after: timedelta = timedelta(seconds=30),
    ) -> None:
        # Interrupted sends: looked for in their chat once ``reconcile_after`` (the connector's request timeout) has
        # passed since they were recorded, for an hour; with no reconciler they stay maybe delivered.
        self._reconciler = reconciler
        self._reconcile_after = reconcile_after
        self._local_due = local_due
        self._feed = feed
        self._feed_slots = asyncio.Semaphore(feed_concurrency)
        self._feed_tasks: set[asyncio.Task[None]] = set()
        self._telemetry = telemetry or Telemetry.off()
        self.engine_id = engine_id
        self._recover_every = timedelta(seconds=recover_every)
        self._ledger = OutreachLedger(store.db)
        self._connector = connector
        self._resolver = resolver
        self._activity_for = activity_for
        self._clock = clock
        self._tenants = tenant_limiter or TenantLimiter()
        self._conversations = conversation_limiter or ConversationLimiter()
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._in_flight = 0
        self._released = asyncio.Event()
        self._batch = batch_size
        self._lease = lease
        self._max_attempts = max_attempts
        self._idle_poll = idle_poll
        self._members = members
        self._wake = asyncio.Event()
        self._trace_parents: dict[str, str | None] = {}  # notification id -> the span that queued it
        self._working: set[tuple[str, str]] = set()  # (notification, recipient key) of the deliveries under way
        self._unsettled: list[Unsettled] = []  # what failed storage writes left behind, settled when it answers
        # Requests sent and not yet recorded: key -> (conversation, activity id) once the connector accepted it.
        self._left: dict[tuple[str, str], tuple[str, str | None] | None] = {}
        self._sending: Batcher[Delivery, bool] = Batcher(self._flush_sending)
        self._sent: Batcher[tuple[Delivery, str, str | None], None] = Batcher(self._flush_sent)
        self.stats: dict[str, int] = {}
        # Edits and recalls: claimed next to deliveries (taking turns when both wait), paced in the bulk lane.
        self.operations = OperationApplier(
            self._ledger.operations,
            connector,
            operation_activities or OperationActivities(self._ledger.operations),
            clock=clock,
            tenants=self._tenants,
            conversations=self._conversations,
            service_url=service_url,
            max_attempts=max_attempts,
            count=self._count,
        )
        self._operations_first = False
        self._init_fair_share(concurrency, bulk_share)

    def _init_fair_share(self, concurrency: int, bulk_share: int | None) -> None:
        # Once ``bulk_share`` of a tenant's broadcast deliveries wait for its pace (or it holds half the slots while
        # some do), no more of its bulk is claimed: the other slots stay for other tenants and the priority lane.
        self._bulk_share = bulk_share or max(1, concurrency // 4)
        self._bulk: dict[str, int] = {}  # tenant -> its bulk deliveries in flight
        self._full: set[str] = set()  # tenants whose bulk was left out of the last claim
        self._reopened: set[str] = set()  # tenants whose queue at the limiter has shrunk: claim theirs next
        self._drained: set[str] = set()  # tenants whose last own claim found nothing more due
        self._reopen = asyncio.Event()
        self._sweep_due = True  # claim across every tenant (else only for the reopened ones)
        self._swept_at = datetime.min.replace(tzinfo=UTC)

    def wake(self) -> None:
        """New work was queued: look now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set, waking on :meth:`wake` or every ``idle_poll`` seconds."""
        await self._pump(stop, until_empty=False)

    async def drain(self) -> int:
        """Send everything due now and return how many deliveries were handled (tests, one-shot runs)."""
        return await self._pump(asyncio.Event(), until_empty=True)

    async def _recover(self) -> None:
        await self._ledger.fold_counts()
        requeued, maybe = await self._ledger.recover(self._clock())
        if requeued or maybe:
            logger.warning("expired claims recovered: %d requeued, %d marked maybe delivered", requeued, maybe)
        await self._ledger.operations.settle(self._clock())
        await self._reconcile()

    async def _reconcile(self) -> None:
        """Interrupted sends: found in their chat -> sent (with the message's id); absent once the request can no
        longer be in flight -> queued again; unreadable -> left maybe delivered."""
        if self._reconciler is None:
            return
        now = self._clock()
        found = requeued = 0
        for delivery in await self._ledger.interrupted(
            since=now - RECONCILE_WINDOW, before=now - self._reconcile_after
        ):
            try:
                target = await self._resolver.resolve(delivery)
                verdict = await self._reconciler.find(delivery, target.conversation_id)
            except (SendFailure, GraphError):
                continue  # cannot tell now: the next recovery looks again
            if verdict.arrival is Arrival.FOUND:
                found += await self._ledger.reconcile(
                    delivery, self._clock(), conversation_id=target.conversation_id, activity_id=verdict.activity_id
                )
            elif verdict.arrival is Arrival.ABSENT:
                requeued += await self._ledger.requeue_interrupted(delivery, self._clock())
        if found or requeued:
            logger.warning("interrupted sends reconciled: %d had arrived, %d queued again", found, requeued)
            self.wake()

    async def _claim(self, free: int) -> tuple[list[Delivery], list[Operation]]:
        """Deliveries and edit/recall operations for ``free`` slots; when both are waiting they take turns going
        first, so neither starves the other (the tenant limiter still grants the priority lane first)."""
        now, lease, owner = self._clock(), self._lease, self.engine_id
        ops_ledger = self._ledger.operations
        self._operations_first = not self._operations_first
        if self._operations_first:
            ops = await ops_ledger.claim_due(now, limit=min(self._batch, free), lease=lease, owner=owner)
            left = free - len(ops)
            claimed = await self._claim_deliveries(left) if left else []
        else:
            claimed = await self._claim_deliveries(free)
            left = min(self._batch, free) - len(claimed)
            ops = await ops_ledger.claim_due(now, limit=left, lease=lease, owner=owner) if left else []
        return claimed, ops

    async def _pump(self, stop: asyncio.Event, *, until_empty: bool) -> int:
        await self._recover()
        await self._settle()
        await self._release_unknown()
        recovered_at = self._clock()
        self._sweep_due = True
        handled = 0
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            await self._settle()
            if self._clock() - recovered_at >= self._recover_every:  # leases a crashed replica left behind
                recovered_at = self._clock()
                await self._recover()
            # Claim only what can start now (once a quarter of the slots is free): rows claimed but waiting for a
            # slot would hold back a small notice or another tenant queued behind a saturating broadcast.
            free = await self._free_slots(stop)
            if free == 0:
                continue
            claimed, ops = await self._claim(free)
            if not claimed and not ops:
                if until_empty:
                    if not tasks:
                        await self._ledger.operations.settle(self._clock())  # copies that will never exist
                        break
                    # What is in flight may schedule retries due now: look again once it has finished.
                    await asyncio.gather(*tasks, return_exceptions=True)
                    self._sweep_due = True
                    continue
                await self._idle(stop)
                continue
            handled += len(claimed) + len(ops)
            if claimed:
                await self._resolver.prefetch(claimed)
            for delivery in claimed:
                if delivery.lane == Lane.BULK:
                    self._bulk[delivery.tenant_id] = self._bulk.get(delivery.tenant_id, 0) + 1
            work: list[Coroutine[Any, Any, None]] = [self._deliver_and_release(d) for d in claimed]
            work += [self._apply_and_release(op) for op in ops]
            for job in work:
                # Claim no further batch until this one is under way: keeps leases short and memory flat.
                await self._slots.acquire()
                self._in_flight += 1
                task = asyncio.create_task(job)
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._feed_tasks:
            await asyncio.gather(*self._feed_tasks, return_exceptions=True)
        return handled

    async def _claim_deliveries(self, free: int) -> list[Delivery]:
        """A sweep (at start, when woken, once per idle-poll interval, while it keeps finding work): the priority
        lane of every tenant, then each tenant with queued work; between sweeps, the tenants whose broadcast has
        room in its share again (one of theirs finished). Every bulk claim is one tenant's own, through its index:
        a saturated tenant's 100,000 queued rows are never scanned past, and an older broadcast never takes
        another tenant's room."""
        if self._wake.is_set():  # new work was queued, perhaps for a tenant no claim has looked at yet
            self._wake.clear()
            self._sweep_due = True
        if self._clock() - self._swept_at >= timedelta(seconds=self._idle_poll):
            self._sweep_due = True  # retries that came due, other replicas' releases, every tenant's turn
        limit = min(self._batch, free)
        claimed: list[Delivery] = []
        only, self._reopened = self._reopened, set()
        if self._sweep_due:
            self._swept_at = self._clock()
            claimed = await self._claim_due(limit, lane=int(Lane.PRIORITY))
            tenants = set(await self._ledger.queued_tenants())
            self._drained -= tenants
            only |= tenants
        self._full = {t for t in self._bulk if self._saturated(t)}
        # The tenant with the fewest in flight first; whoever finds no room left is looked at in the next claim.
        for tenant in sorted(only - self._full, key=lambda t: (self._bulk.get(t, 0), t)):
            if len(claimed) >= limit:
                self._reopened.add(tenant)
                continue
            asked = min(limit - len(claimed), self._room(tenant, limit))
            # Its bulk lane alone (the sweep takes every priority lane): one index range, however long its queue.
            got = await self._claim_due(max(1, asked), tenant=tenant, lane=int(Lane.BULK))
            if len(got) < asked:
                self._drained.add(tenant)  # nothing more due: no further look until a sweep finds some
            claimed += got
        self._sweep_due = self._sweep_due and len(claimed) >= limit
        return claimed

    async def _claim_due(self, limit: int, *, lane: int | None = None, tenant: str | None = None) -> list[Delivery]:
        return await self._ledger.claim_due(
            self._clock(),
            limit=limit,
            lease=self._lease,
            owner=self.engine_id,
            lane=lane,
            only_tenants=(tenant,) if tenant else (),
        )

    def _room(self, tenant_id: str, free: int) -> int:
        """How many more of the tenant's broadcast may start: while some wait for its pace, up to its share at the
        limiter and half the slots in all (the rest are between grants: creating a conversation, sending); while
        none wait, all that is free (the engine alone is the limit then)."""
        waiting = self._tenants.waiting(tenant_id, Lane.BULK)
        if not waiting:
            return free
        return min(self._bulk_share - waiting, self._concurrency // 2 - self._bulk.get(tenant_id, 0))

    def _saturated(self, tenant_id: str) -> bool:
        return self._room(tenant_id, 1) <= 0

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until new work is queued, a tenant's broadcast gets a slot back, or the idle poll (then sweep)."""
        if self._reopened:
            return
        self._reopen.clear()
        await first_of(self._wake, self._reopen, stop, timeout=self._idle_poll)
        if not self._reopen.is_set():
            self._sweep_due = True  # the idle poll: retries that came due, other replicas' releases

    async def _flush_sending(self, deliveries: list[Delivery]) -> list[bool]:
        allowed = await self._ledger.mark_sending_many(deliveries, self._clock())
        return [(d.notification_id, d.recipient_key) in allowed for d in deliveries]

    async def _flush_sent(self, items: list[tuple[Delivery, str, str | None]]) -> list[None]:
        await self._ledger.mark_sent_many(items, self._clock())
        return [None] * len(items)

    async def _deliver_and_release(self, delivery: Delivery) -> None:
        attributes: dict[str, str | int] = {
            "notification.id": delivery.notification_id,
            "lane": delivery.lane,
            "attempt": delivery.attempts,
        }
        key = (delivery.notification_id, delivery.recipient_key)
        self._working.add(key)
        try:
            parent = await self._trace_parent(delivery.notification_id)
            with self._telemetry.span("outbox deliver", attributes, parent=parent) as span:
                span.set("delivery.state", (await self.deliver(delivery)).value)
        except Exception:
            logger.exception("a delivery failed unexpectedly; its claim is given back as soon as storage answers")
            left = key in self._left
            self._unsettled.append(Unsettled(delivery, left, self._left.get(key)))
        finally:
            self._left.pop(key, None)
            self._working.discard(key)
            self._in_flight -= 1
            tenant = delivery.tenant_id
            if delivery.lane == Lane.BULK:
                remaining = self._bulk.get(tenant, 1) - 1
                if remaining > 0:
                    self._bulk[tenant] = remaining
                else:
                    self._bulk.pop(tenant, None)
            if (
                delivery.lane == Lane.BULK
                and tenant not in self._reopened
                and tenant not in self._drained
                and self._room(tenant, self._bulk_share) >= self._bulk_share // 2
            ):
                self._reopened.add(tenant)  # half its share is free: look for its next ones (a claim for several)
                self._reopen.set()
            self._released.set()
            self._slots.release()

    async def _apply_and_release(self, operation: Operation) -> None:
        try:
            await self.operations.apply(operation)
        except Exception:
            logger.exception("an edit or recall failed unexpectedly; it stays claimed until its lease expires")
        finally:
            self._in_flight -= 1
            self._released.set()
            self._slots.release()

    async def _trace_parent(self, notification_id: str) -> str | None:
        """The span that queued the notification, looked up once per notification (only when tracing)."""
        if not self._telemetry.enabled:
            return None
        if notification_id not in self._trace_parents:
            if len(self._trace_parents) >= 1024:
                self._trace_parents.pop(next(iter(self._trace_parents)))
            self._trace_parents[notification_id] = await self._ledger.trace_parent(notification_id)
        return self._trace_parents[notification_id]

    async def _release_unknown(self) -> None:
        """Claims this engine holds that none of its tasks works on: a claim committed while its answer was lost
        (the connection dropped with a storage outage) would otherwise wait for its lease. Runs when the engine
        (re)starts, so after every storage failure that stopped it."""
        if self.engine_id is None:
            return
        held = await self._ledger.held_by(self.engine_id)
        known = self._working | {(u.delivery.notification_id, u.delivery.recipient_key) for u in self._unsettled}
        released = 0
        for delivery in held:
            if (delivery.notification_id, delivery.recipient_key) not in known:  # taken together with the fetch
                released += await self._ledger.release(delivery, self._clock())
        if released:
            logger.warning("released %d claims this engine held without working on them", released)

    async def _settle(self) -> None:
        """Give back the claims of deliveries that failed half-way (a storage outage): without this they would wait
        for their lease (minutes) although this engine is alive. Raises while storage is still down."""
        while self._unsettled:
            item = self._unsettled[0]
            if item.sent is not None:  # delivered: only the "sent" mark was lost
                conversation_id, activity_id = item.sent
                await self._ledger.mark_sent(
                    item.delivery, self._clock(), conversation_id=conversation_id, activity_id=activity_id
                )
            else:
                await self._ledger.release(item.delivery, self._clock(), request_left=item.request_left)
            self._unsettled.pop(0)

    async def _free_slots(self, stop: asyncio.Event) -> int:
        """Free sending slots once at least a quarter of them (or a whole batch) is free, or one as soon as new work
        was queued (it may be another tenant's, next to a broadcast holding the rest); 0 when stopping."""
        batch = min(self._batch, max(1, self._concurrency // 4))
        while self._concurrency - self._in_flight < (1 if self._wake.is_set() else batch):
            self._released.clear()
            await first_of(self._released, self._wake, stop, timeout=self._idle_poll)
            if stop.is_set():
                return 0
        return self._concurrency - self._in_flight

    def _count(self, outcome: str) -> None:
        self.stats[outcome] = self.stats.get(outcome, 0) + 1
        self._telemetry.delivery(outcome)

    async def deliver(self, delivery: Delivery) -> DeliveryState:
        if delivery.is_group:
            return await self._expand(delivery)
        ledger, now = self._ledger, self._clock
        try:
            target = await self._resolver.resolve(delivery)
            activity = await self._activity_for(delivery)
            if self._reconciler is not None:
                activity = with_marker(activity, delivery)
        except NotInstalled as exc:
            await ledger.mark_final(delivery, DeliveryState.NOT_INSTALLED, now(), reason=exc.reason)
            self._count("not_installed")
            return DeliveryState.NOT_INSTALLED
        except ConnectorFailure as failure:
            # Creating the conversation failed but nothing was sent yet: always safe to retry.
            return await self._retry(delivery, failure, nothing_left=True)
        except GraphError as exc:  # a lookup or an installation throttled or unavailable: nothing was sent
            graph_failure = ConnectorFailure(exc.status, exc.code, exc.message, FailureKind.RETRY, reason="graph")
            return await self._retry(delivery, graph_failure, nothing_left=True)
        await self._connector.ready()
        await self._tenants.acquire(delivery.tenant_id, Lane(delivery.lane))
        await self._conversations.acquire(target.conversation_id)
        await self._tenants.depart(delivery.tenant_id)
        # The "sending" mark is committed (grouped with other senders') right before the request leaves, after every
        # wait: a crash can only catch a delivery in the millisecond between the two, which keeps "maybe delivered"
        # rare. The departure gate's jitter margin absorbs the commit's few milliseconds.
        if not await self._sending.submit(delivery):
            logger.warning("lost the claim on a delivery before sending; another worker has it")
            return DeliveryState.CLAIMED
        try:
            self._left[(delivery.notification_id, delivery.recipient_key)] = None
            activity_id = await self._connector.send(target.service_url, target.conversation_id, activity)
        except ConnectorFailure as failure:
            if failure.kind is FailureKind.PERMANENT:
                await ledger.mark_final(delivery, DeliveryState.FAILED, now(), reason=failure.reason)
                self._count(f"failed:{failure.reason}")
                return DeliveryState.FAILED
            if failure.kind is FailureKind.MAYBE_DELIVERED:
                await ledger.mark_final(delivery, DeliveryState.MAYBE_DELIVERED, now(), reason=failure.reason)
                self._count("maybe_delivered")
                return DeliveryState.MAYBE_DELIVERED
            return await self._retry(delivery, failure, nothing_left=failure.kind is FailureKind.NOT_SENT)
        self._left[(delivery.notification_id, delivery.recipient_key)] = (target.conversation_id, activity_id)
        await self._sent.submit((delivery, target.conversation_id, activity_id))
        self._count("sent")
        await self._start_feed(delivery)
        return DeliveryState.SENT

    async def _start_feed(self, delivery: Delivery) -> None:
        """The activity-feed notification of a sent copy, in the background: the chat delivery is recorded already
        and never waits for it (only when this many feed calls are in flight does the next send wait for one)."""
        if self._feed is None:
            return
        await self._feed_slots.acquire()
        task = asyncio.create_task(self._feed_and_release(self._feed, delivery))
        self._feed_tasks.add(task)
        task.add_done_callback(self._feed_tasks.discard)

    async def _feed_and_release(self, feed: FeedNotifier, delivery: Delivery) -> None:
        try:
            await feed.notify(delivery)
        except Exception:
            logger.exception("an activity feed notification failed unexpectedly")
        finally:
            self._feed_slots.release()

    async def _member_due(self, group: Delivery) -> datetime | None:
        """The wall-clock time a group's members get in their own zones (a local-time notification), else None."""
        if self._local_due is None:
            return None
        notification = await self._ledger.get_notification(group.notification_id)
        return parse_wall(notification.local_time) if notification and notification.local_time else None

    async def _expand(self, group: Delivery) -> DeliveryState:
        """Replace a team or group recipient by one queued delivery per member, a stored page at a time."""
        ledger, now = self._ledger, self._clock
        cursor, added = group.cursor, 0
        wall = await self._member_due(group)
        while True:
            try:
                if self._members is None:
                    raise NotInstalled("unsupported_recipient")
                ids, next_cursor = await self._members.page(group, cursor)
            except NotInstalled as exc:
                await ledger.mark_final(group, DeliveryState.NOT_INSTALLED, now(), reason=exc.reason)
                self._count("not_installed")
                return DeliveryState.NOT_INSTALLED
            except ConnectorFailure as failure:
                return await self._retry(group, failure, nothing_left=True)
            except GraphError as exc:  # throttled or unavailable after the Graph client's own retries
                graph_failure = ConnectorFailure(exc.status, exc.code, exc.message, FailureKind.RETRY, reason="graph")
                return await self._retry(group, graph_failure, nothing_left=True)
            members = [(f"user:{i.lower()}", {"userId": i.lower()}) for i in ids]
            due = None
            if wall is not None and self._local_due is not None:
                due = await self._local_due.due_times(group.tenant_id, wall, members)
            stored = await ledger.expand_page(
                group, members, cursor=next_cursor, now=now(), send_at=now(), lease=self._lease, due=due
            )
            if not stored:
                logger.warning("lost the claim on a group recipient while expanding it; another worker has it")
                return DeliveryState.CLAIMED
            added += len(members)
            self.wake()  # the new members are due now
            if next_cursor is None:
                break
            cursor = next_cursor
        await ledger.mark_final(group, DeliveryState.EXPANDED, now(), reason=f"members:{added}")
        self._count("expanded")
        return DeliveryState.EXPANDED

    async def _retry(self, delivery: Delivery, failure: ConnectorFailure, *, nothing_left: bool) -> DeliveryState:
        if failure.status == 429:
            self._tenants.pause(delivery.tenant_id, failure.retry_after or 1.0)
        if delivery.attempts + 1 >= self._max_attempts:
            state = DeliveryState.FAILED if nothing_left else DeliveryState.MAYBE_DELIVERED
            await self._ledger.mark_final(delivery, state, self._clock(), reason=f"gave_up:{failure.reason}")
            self._count(f"gave_up:{failure.reason}")
            return state
        wait = (
            failure.retry_after
            if failure.retry_after is not None
            else random.uniform(0, min(30.0, 0.5 * 2**delivery.attempts))  # noqa: S311 - backoff jitter
        )
        await self._ledger.mark_retry(
            delivery, self._clock(), at=self._clock() + timedelta(seconds=wait), reason=failure.reason
        )
        self._count(f"retry:{failure.reason}")
        return DeliveryState.QUEUED
