"""Reminders in the running app: the scheduler as a background task, woken by the handlers."""

from __future__ import annotations

from aiohttp import web

from bot.background import background
from bot.outreach.direct import DirectSender
from bot.reminders.scheduler import ReminderScheduler
from bot.services import Services


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
    app.cleanup_ctx.append(background("reminder scheduler", scheduler.run))
    return scheduler
