"""The meetings HTTP API: other systems put Teams meetings in a person's calendar through Courier, and keep them in
step.

    POST   /api/meetings        {idempotencyKey, organizer, subject, start, end, attendees?, agenda?, tenantId?}
    GET    /api/meetings/{id}   the meeting as its event stands now (changes made in Outlook included)
    PATCH  /api/meetings/{id}   {subject?, start?, end?, attendees?}: attendees get the update
    DELETE /api/meetings/{id}   cancels it; attendees are notified

Auth: an API key (``COURIER_API_KEYS``) or an Entra token for Courier's app carrying the app role ``Meetings.Write``
(401 without valid credentials, 403 for a valid token without the role). The organizer (Entra object id, or UPN
resolved through Graph with ``User.Read.All``) must have signed in to Courier once: Courier acts as them with their
delegated token. When their sign-in lapsed or was revoked the answer is 409 naming the fix, and Courier asks them in
Teams (a card through the outbox) to sign in again. ``idempotencyKey`` makes a retried creation answer the meeting
created the first time (and it is the event's Graph ``transactionId``, so Outlook holds one event too).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.features.meetings.calendar import Calendar, Event, RoomRef, open_calendar
from bot.features.meetings.handlers import MeetingDeps
from bot.features.meetings.service import MAX_ATTENDEES, Organizer, Plan
from bot.features.meetings.store import CANCELLED, Meeting
from bot.platform.graph.errors import GraphError, NotFound, PermissionDenied
from bot.platform.http import BodyRefused, client_ssl_context, problem, read_json_body
from bot.platform.identity.delegated import SignInRequired, UserRef
from bot.platform.identity.tokens import Authenticated, EntraTokenValidator, authenticate
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)

ROLE = "Meetings.Write"
MAX_BODY = 64 * 1024
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")
ASK_AGAIN_EVERY = timedelta(hours=12)
ASKED = "meetings_api_signin_asked"  # user key -> when the organizer was last asked to sign in again

UNAUTHENTICATED = "a valid API key or Entra access token is required: Authorization: Bearer <key or token>"
FORBIDDEN = f"the calling app lacks the app role {ROLE}: an admin assigns it to the app in Entra"
LAPSED = (
    "the organizer's sign-in to Courier has lapsed or was revoked, so Courier can't act in their calendar: they "
    "must sign in again (type signin in Courier's chat in Teams; they have been sent a card asking them to)"
)
NEVER = "the organizer has not signed in to Courier yet: they type signin in Courier's chat in Teams once"
REASK_TITLE = "Sign in again"
REASK_TEXT = (
    "Another system manages Teams meetings in your calendar through {app}, and your sign-in has lapsed. "
    "Sign in again so it keeps working."
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiProblem(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.response = problem(status, message, field)


def _time(body: dict[str, Any], key: str) -> datetime:
    value = body.get(key)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApiProblem(400, f"{key} must be an ISO 8601 time with its offset, e.g. 2026-03-11T15:00:00Z", key)
    return parsed.astimezone(UTC)


def _subject(body: dict[str, Any]) -> str:
    subject = body.get("subject")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
        raise ApiProblem(400, "subject must be a text of 1 to 255 characters", "subject")
    return subject.strip()


def _attendees(body: dict[str, Any]) -> tuple[str, ...]:
    people = body.get("attendees", [])
    if not isinstance(people, list) or not all(isinstance(p, str) and EMAIL.match(p) for p in people):
        raise ApiProblem(400, "attendees must be a list of email addresses", "attendees")
    if len(people) > MAX_ATTENDEES:
        raise ApiProblem(400, f"at most {MAX_ATTENDEES} attendees", "attendees")
    return tuple(dict.fromkeys(p.lower() for p in people))


def _window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ApiProblem(400, "end must be after start", "end")
    if end - start > timedelta(days=1):
        raise ApiProblem(400, "a meeting lasts at most 24 hours", "end")


def _view(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.id,
        "status": meeting.status,
        "subject": meeting.subject,
        "start": meeting.start_at.isoformat(),
        "end": meeting.end_at.isoformat(),
        "organizerId": meeting.organizer_id,
        "attendees": list(meeting.attendees),
        "joinUrl": meeting.join_url,
        "eventId": meeting.event_id,
        "room": {"email": meeting.room_email, "name": meeting.room_name, "response": meeting.room_response}
        if meeting.room_email
        else None,
    }


class MeetingsApi:
    def __init__(self, services: Services, deps: MeetingDeps, tokens: EntraTokenValidator | None) -> None:
        self._services = services
        self._deps = deps
        self._tokens = tokens

    def install(self, app: web.Application) -> None:
        app.router.add_post("/api/meetings", self._guarded(self.create))
        app.router.add_get("/api/meetings/{id}", self._guarded(self.show))
        app.router.add_patch("/api/meetings/{id}", self._guarded(self.edit))
        app.router.add_delete("/api/meetings/{id}", self._guarded(self.cancel))

    def _guarded(self, handler: Callable[[web.Request, Authenticated], Awaitable[web.Response]]) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            settings = self._services.settings
            caller = await authenticate(settings, self._tokens, request.headers.get("Authorization", ""), ROLE)
            if caller.status != 200:
                return problem(caller.status, UNAUTHENTICATED if caller.status == 401 else FORBIDDEN)
            try:
                return await handler(request, caller)
            except ApiProblem as refused:
                return refused.response
            except BodyRefused as refused:
                return refused.response()
            except PermissionDenied as exc:
                return problem(409, f"Courier lacks a permission in the organizer's calendar ({exc.permission})")
            except GraphError as exc:
                logger.warning("meetings API: Graph failed: %s", exc)
                return problem(502, "Microsoft Graph answered with an error; nothing changed. Try again later.")

        return wrapper

    # -- the organizer --------------------------------------------------------------------------------
    async def _organizer(self, tenant: str, body: dict[str, Any]) -> str:
        value = body.get("organizer")
        if isinstance(value, str) and GUID.match(value):
            return value.lower()
        if not isinstance(value, str) or not EMAIL.match(value):
            raise ApiProblem(400, "organizer must be the organizer's Entra object id or UPN", "organizer")
        identity = self._services.identity
        if identity is None or identity.graph is None or identity.credential is None:
            raise ApiProblem(400, "give the organizer's Entra object id (UPNs can't be looked up here)", "organizer")
        try:
            user = await identity.graph.app(identity.credential, tenant).get(
                f"/users/{quote(value)}", params={"$select": "id"}, permission="User.Read.All"
            )
        except NotFound:
            raise ApiProblem(400, f"no user {value} in the tenant", "organizer") from None
        except PermissionDenied:
            text = "give the organizer's Entra object id (User.Read.All is not granted)"
            raise ApiProblem(400, text, "organizer") from None
        return str(user["id"]).lower()

    async def _calendar(self, user: UserRef) -> Calendar:
        identity = self._services.identity
        if identity is None or identity.delegated is None:
            raise ApiProblem(503, "delegated sign-in is not set up here (COURIER_PUBLIC_URL, an app registration)")
        signed_in_before = await identity.delegated.is_signed_in(user) or await self._asked_before(user)
        try:
            calendar = await open_calendar(identity, user)
        except SignInRequired:
            calendar = None
        if calendar is None:
            await self._ask_to_sign_in(user)
            raise ApiProblem(409, LAPSED if signed_in_before else NEVER, "organizer")
        return calendar

    async def _asked_before(self, user: UserRef) -> bool:
        return await self._services.store.get_value(ASKED, user.key) is not None

    async def _ask_to_sign_in(self, user: UserRef) -> None:
        """The organizer's sign-in card in their chat with Courier (at most every 12 hours)."""
        services, identity = self._services, self._services.identity
        now = services.clock()
        asked = await services.store.get_value(ASKED, user.key)
        if isinstance(asked, str) and now - datetime.fromisoformat(asked) < ASK_AGAIN_EVERY:
            return
        chat = await services.store.find_personal_conversation(user.tenant_id, user.aad_object_id)
        if chat is None or services.proactive is None or identity is None or identity.delegated is None:
            logger.info("meetings API: the organizer has no chat with Courier to ask them to sign in again")
            return
        await services.store.put_value(ASKED, user.key, now.isoformat())
        url = await identity.delegated.begin(user, chat.conversation_id)
        reason = REASK_TEXT.format(app=services.settings.app_name)
        card = services.cards.render("signin", {"app_name": services.settings.app_name, "reason": reason, "url": url})
        try:
            await services.proactive.send(chat.conversation_id, Message(text=REASK_TITLE, card=card))
        except NotDeliverable as exc:
            logger.info("meetings API: could not ask the organizer to sign in again: %s", exc)

    # -- the endpoints --------------------------------------------------------------------------------
    async def create(self, request: web.Request, caller: Authenticated) -> web.Response:
        body = await read_json_body(request, MAX_BODY)
        key = body.get("idempotencyKey")
        if not isinstance(key, str) or not 1 <= len(key) <= 200:
            raise ApiProblem(400, "idempotencyKey must be a text of 1 to 200 characters", "idempotencyKey")
        tenant = self._tenant(caller, body)
        subject, start, end = _subject(body), _time(body, "start"), _time(body, "end")
        _window(start, end)
        attendees = _attendees(body)
        transaction = "api-" + hashlib.sha256(f"{caller.sender}|{tenant}|{key}".encode()).hexdigest()[:40]
        existing = await self._deps.store.by_transaction(transaction)
        if existing is not None:
            return web.json_response(_view(existing), status=200)
        organizer = Organizer(tenant, await self._organizer(tenant, body), None)
        user = UserRef(tenant, organizer.user_id)
        calendar = await self._calendar(user)
        minutes = int((end - start).total_seconds() // 60)
        plan = Plan(subject, start, minutes, attendees, transaction)
        meeting = await self._deps.service.create(
            calendar, organizer, plan, zone="UTC", conversation_id="", caller=caller.sender
        )
        await self._track(user)
        return web.json_response(_view(meeting), status=201)

    def _tenant(self, caller: Authenticated, body: dict[str, Any]) -> str:
        if caller.tenant_id is not None:
            return caller.tenant_id
        tenant = body.get("tenantId", self._services.settings.app_tenant_id)
        if not isinstance(tenant, str) or not GUID.match(tenant) or not self._services.settings.tenant_allowed(tenant):
            raise ApiProblem(400, "tenantId must be the id of a tenant Courier serves", "tenantId")
        return tenant.lower()

    async def _track(self, user: UserRef) -> None:
        try:
            await self._deps.sync.track(user)
        except Exception as exc:  # Outlook changes are still read at every GET and by the reconcile
            logger.info("meetings API: could not subscribe to the organizer's calendar changes (%s)", exc)

    async def _meeting(self, request: web.Request, caller: Authenticated) -> tuple[Meeting, Calendar]:
        meeting = await self._deps.store.get(request.match_info["id"])
        if meeting is None or (caller.tenant_id is not None and caller.tenant_id != meeting.tenant_id):
            raise ApiProblem(404, "no such meeting")
        return meeting, await self._calendar(UserRef(meeting.tenant_id, meeting.organizer_id))

    async def show(self, request: web.Request, caller: Authenticated) -> web.Response:
        meeting, calendar = await self._meeting(request, caller)
        if meeting.status != CANCELLED:
            event = await calendar.get(meeting.event_id)
            meeting = await self._stored(meeting, event)
        return web.json_response(_view(meeting))

    async def _stored(self, meeting: Meeting, event: Event | None) -> Meeting:
        """The row brought in line with the event (moved, renamed, re-invited or cancelled in Outlook)."""
        store, now = self._deps.store, self._services.clock()
        if event is None or event.cancelled:
            await store.set_status(meeting.id, CANCELLED, now)
        else:
            await store.edited(
                meeting.id,
                subject=event.subject,
                start=event.start,
                end=event.end,
                attendees=event.attendees,
                room_response=event.room_response,
                now=now,
            )
        return await store.get(meeting.id) or meeting

    async def edit(self, request: web.Request, caller: Authenticated) -> web.Response:
        body = await read_json_body(request, MAX_BODY)
        changes: dict[str, Any] = {}
        if "subject" in body:
            changes["subject"] = _subject(body)
        if "attendees" in body:
            changes["attendees"] = _attendees(body)
        unknown = set(body) - {"subject", "attendees", "start", "end"}
        if unknown:
            raise ApiProblem(400, f"unknown field {sorted(unknown)[0]}", sorted(unknown)[0])
        meeting, calendar = await self._meeting(request, caller)
        if meeting.status == CANCELLED:
            raise ApiProblem(409, "the meeting was cancelled")
        start = _time(body, "start") if "start" in body else meeting.start_at
        end = _time(body, "end") if "end" in body else meeting.end_at
        _window(start, end)
        if "start" in body or "end" in body:
            changes.update(start=start, end=end)
        if not changes:
            raise ApiProblem(400, "nothing to change: give subject, start, end or attendees")
        room = RoomRef(meeting.room_email, meeting.room_name or meeting.room_email) if meeting.room_email else None
        event = await calendar.edit(meeting.event_id, changes, room)
        return web.json_response(_view(await self._stored(meeting, event)))

    async def cancel(self, request: web.Request, caller: Authenticated) -> web.Response:
        meeting, calendar = await self._meeting(request, caller)
        if meeting.status != CANCELLED:
            await self._deps.service.cancel(calendar, meeting)
        cancelled = await self._deps.store.get(meeting.id) or meeting
        return web.json_response(_view(cancelled))


def install_api(app: web.Application, services: Services, deps: MeetingDeps) -> None:
    settings = services.settings
    tokens = EntraTokenValidator(settings, ssl_context=client_ssl_context(settings)) if settings.app_id else None
    MeetingsApi(services, deps, tokens).install(app)
