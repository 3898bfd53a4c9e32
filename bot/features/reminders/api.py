"""My reminders over HTTP (the console's "Mine" page, or a person's script with a single sign-on token):

- ``GET /api/me/reminders``: what I set, soonest first;
- ``DELETE /api/me/reminders/{id}``: delete one I set or receive;
- ``POST /api/me/reminders/{id}/snooze`` ``{"minutes": 1..1440}``: move it later (a repeating one comes back once).

People only (API keys and app tokens have no reminders of their own); everything goes through the service's rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.features.reminders.service import MAX_SNOOZE_MINUTES, MAX_UPCOMING, ReminderService, snooze_until
from bot.features.reminders.store import Reminder
from bot.platform.access import Caller
from bot.platform.services import Services
from bot.platform.web.api import caller_or_problem, json_body, problem


def _item(reminder: Reminder) -> dict[str, Any]:
    return {
        "id": reminder.id,
        "text": reminder.text,
        "dueAt": reminder.due_at.isoformat(),
        "zone": reminder.zone,
        "repeats": reminder.repeats,
        "rule": reminder.rule,
        "for": reminder.target_name if reminder.target_user_id != reminder.creator_id else None,
        "status": reminder.status,
    }


class MyRemindersApi:
    def __init__(self, services: Services, service: ReminderService) -> None:
        self._services = services
        self._service = service

    def install(self, app: web.Application) -> None:
        app.router.add_get("/api/me/reminders", self.listing)
        app.router.add_delete("/api/me/reminders/{id}", self.delete)
        app.router.add_post("/api/me/reminders/{id}/snooze", self.snooze)

    async def _person(self, request: web.Request) -> Caller | web.Response:
        caller = await caller_or_problem(self._services, request)
        if isinstance(caller, web.Response):
            return caller
        if caller.user is None:
            return problem(403, "reminders belong to people; API keys and app tokens have none")
        return caller

    async def _mine(self, request: web.Request) -> tuple[Caller, Reminder] | web.Response:
        caller = await self._person(request)
        if isinstance(caller, web.Response):
            return caller
        assert caller.user is not None
        reminder = await self._service.mine(caller.user.tenant_id, caller.user.user_id, request.match_info["id"])
        if reminder is None:
            return problem(404, "no such reminder of yours (it may have been deleted or done)")
        return caller, reminder

    async def listing(self, request: web.Request) -> web.StreamResponse:
        caller = await self._person(request)
        if isinstance(caller, web.Response):
            return caller
        assert caller.user is not None
        found = await self._service.upcoming_for_user(caller.user.tenant_id, caller.user.user_id, limit=MAX_UPCOMING)
        return web.json_response({"reminders": [_item(r) for r in found]}, headers={"Cache-Control": "no-store"})

    async def delete(self, request: web.Request) -> web.StreamResponse:
        found = await self._mine(request)
        if isinstance(found, web.Response):
            return found
        await self._service.delete(found[1])
        return web.json_response({"id": found[1].id, "deleted": True})

    async def snooze(self, request: web.Request) -> web.StreamResponse:
        found = await self._mine(request)
        if isinstance(found, web.Response):
            return found
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        minutes = body.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_SNOOZE_MINUTES:
            return problem(400, f"must be a whole number of minutes from 1 to {MAX_SNOOZE_MINUTES}", "minutes")
        now: datetime = self._services.clock()
        until = snooze_until(now, minutes)
        caller, reminder = found
        assert caller.user is not None
        prefs = await self._services.store.people.preferences(caller.user.tenant_id, caller.user.user_id)
        status = await self._service.snooze(reminder, until, prefs.zone or prefs.teams_zone or reminder.zone)
        return web.json_response({"id": found[1].id, "until": until.isoformat(), "message": status})


def install_api(app: web.Application, services: Services, service: ReminderService) -> None:
    MyRemindersApi(services, service).install(app)
