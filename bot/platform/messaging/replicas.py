"""Several replicas (processes) sharing one tenant's send rate through the database.

Each engine heartbeats a row in ``outreach_engines`` every couple of seconds and paces at 1/N of the tenant's rate,
N being the engines whose heartbeat is fresh: no request pays a database round trip for the limit, and a replica
that dies stops counting after ``expiry``. A 429 seen by one replica is written to ``outreach_pauses`` and every
other replica pauses too at its next heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.messaging.ratelimit import TenantLimiter
from bot.platform.storage.base import Store

logger = logging.getLogger(__name__)


class ReplicaCoordinator:
    def __init__(
        self,
        store: Store,
        limiter: TenantLimiter,
        *,
        clock: Callable[[], datetime],
        heartbeat: float = 2.0,
        expiry: float = 6.0,
        engine_id: str | None = None,
        on_released: Callable[[], None] | None = None,
    ) -> None:
        self._ledger = OutreachLedger(store.db)
        self._engines = self._ledger.engines
        self._on_released = on_released
        self._limiter = limiter
        self._clock = clock
        self._every = heartbeat
        self._expiry = timedelta(seconds=expiry)
        self.engine_id = engine_id or uuid.uuid4().hex
        self.replicas = 1
        self._pending_pauses: dict[str, datetime] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        limiter.on_pause = self._on_pause

    def _on_pause(self, tenant_id: str, seconds: float) -> None:
        until = self._clock() + timedelta(seconds=seconds)
        self._pending_pauses[tenant_id] = max(until, self._pending_pauses.get(tenant_id, until))
        task = asyncio.get_running_loop().create_task(self._publish_pauses())
        self._tasks.add(task)  # held until done: a task nobody references may be collected mid-way
        task.add_done_callback(self._tasks.discard)

    async def _publish_pauses(self) -> None:
        pending, self._pending_pauses = self._pending_pauses, {}
        try:
            for tenant, until in pending.items():
                await self._engines.share_pause(tenant, until)
        except Exception:
            logger.exception("could not share a 429 pause with the other replicas")

    async def flush(self) -> None:
        """Wait until the pauses this replica saw are written (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def beat(self) -> int:
        """Refresh this engine's heartbeat, take its share of the rate and the others' pauses; returns N."""
        now = self._clock()
        live, pauses = await self._engines.heartbeat(self.engine_id, now, expiry=self._expiry)
        if live != self.replicas:
            logger.info("outreach replicas: %d (this one paces at 1/%d of each tenant's rate)", live, live)
        self.replicas = live
        self._limiter.set_share(1.0 / live)
        for tenant, until in pauses.items():
            remaining = (until - now).total_seconds()
            if self._limiter.paused_until(tenant) < self._limiter.now() + remaining - 0.05:
                self._limiter.pause(tenant, remaining, shared=False)
        await self._release_orphans(now)
        return live

    async def _release_orphans(self, now: datetime) -> None:
        requeued, maybe = await self._ledger.release_orphans(now, alive_since=now - self._expiry)
        if requeued or maybe:
            logger.warning(
                "released the claims of a stopped outreach engine: %d requeued, %d marked maybe delivered",
                requeued,
                maybe,
            )
            if self._on_released is not None:
                self._on_released()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.beat()
                except Exception:
                    logger.exception("outreach heartbeat failed; keeping the last share")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._every)
        finally:
            try:
                await self._engines.withdraw(self.engine_id)
            except Exception:
                logger.exception("could not withdraw this engine's heartbeat")
