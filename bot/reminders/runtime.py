"""Reminders in the running app: the scheduler as a background task, woken by the handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bot.outreach.direct import DirectSender
from bot.reminders.scheduler import ReminderScheduler
from bot.services import Services

logger = logging.getLogger(__name__)


def install_reminders(app: web.Application, services: Services, sender: DirectSender) -> ReminderScheduler:
    scheduler = ReminderScheduler(
        services.store,
        sender,
        services.cards,
        clock=services.clock,
        app_name=services.settings.app_name,
        max_lateness=services.settings.reminder_max_lateness,
        card_makers=services.signals.scheduled_cards,
    )
    services.signals.reminders_changed = scheduler.wake
    app.cleanup_ctx.append(_running(scheduler))
    return scheduler


def _running(
    scheduler: ReminderScheduler,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def context(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stop), name="reminder-scheduler")
        logger.info("reminder scheduler started")
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 20)
            except TimeoutError:
                task.cancel()
            logger.info("reminder scheduler stopped")

    return context
