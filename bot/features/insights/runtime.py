"""Insights in the running app: backfills as background tasks (resumed after a restart) and the retention purge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from bot.features.insights.backfill import Backfill
from bot.features.insights.store import InsightsStore
from bot.platform import i18n
from bot.platform.i18n import _
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams.turn import Message
from bot.platform.waiting import first_of

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 2_000


class InsightsRuntime:
    def __init__(self, services: Services, store: InsightsStore, backfill: Backfill | None) -> None:
        self._services = services
        self._store = store
        self._backfill = backfill
        self._running: dict[str, asyncio.Task[None]] = {}

    async def start_backfill(self, tenant: str, team: str, channel: str) -> bool:
        """Start (or keep) reading the channel's history in the background; False when it cannot here (no Graph)."""
        if self._backfill is None:
            return False
        if channel in self._running and not self._running[channel].done():
            return True
        self._running[channel] = asyncio.create_task(self._backfill_and_tell(tenant, team, channel))
        return True

    async def _tell(self, channel: str, title: str, text: str) -> None:
        proactive = self._services.proactive
        if proactive is None:
            return
        card = self._services.notice(title, text)
        with contextlib.suppress(NotDeliverable):
            await proactive.send(channel, Message(card=card))

    async def _backfill_and_tell(self, tenant: str, team: str, channel: str) -> None:
        assert self._backfill is not None
        reported = 0

        async def progress(count: int, done: bool) -> None:
            nonlocal reported
            if done:
                await self._tell(
                    channel,
                    _("Channel history read"),
                    _("{count} messages are now part of insights.", count=i18n.current().number(count)),
                )
            elif count - reported >= PROGRESS_EVERY:
                reported = count
                await self._tell(
                    channel,
                    _("Reading channel history…"),
                    _("{count} messages so far.", count=i18n.current().number(count)),
                )

        try:
            await self._backfill.run(tenant, team, channel, progress=progress)
        except Exception:
            logger.exception("a channel backfill stopped; it resumes from its last page at the next start")

    async def run(self, stop: asyncio.Event) -> None:
        if self._backfill is not None:
            for tenant, team, channel in await self._backfill.unfinished():
                await self.start_backfill(tenant, team, channel)
        retention = self._services.settings.insights_retention_days
        while not stop.is_set():
            purged = await self._store.purge_before(self._services.clock() - timedelta(days=retention))
            if purged:
                logger.info("insights retention: %d messages older than %d days purged", purged, retention)
            await first_of(stop, timeout=6 * 3600)
        for task in self._running.values():
            task.cancel()
