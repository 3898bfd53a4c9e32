"""The Bot Connector REST API v3 (the bot's ``serviceUrl``), enforcing Teams' rules.

- Auth: ``Authorization: Bearer`` token from the Entra emulator for ``https://api.botframework.com`` (signature,
  audience, expiry), unless ``require_auth=False`` (anonymous local mode).
- Rate limits per conversation (sends: 7/1 s, 8/2 s, 60/30 s, 1800/h; member reads: 14/1 s, 16/2 s, 120/30 s,
  3600/h) and an app-wide ceiling (``ceiling_rps``); over a limit -> 429 with ``Retry-After``.
- Permanent failures: uninstalled conversations (404 ConversationNotFound), blocked users (403
  MessageWritesBlocked), a disabled tenant (403); injected faults for tests.
- Updates (``PUT``) and deletes (``DELETE``) of an activity count against the same limits as sends; an activity it
  never issued in that conversation, or one deleted (by the bot or by the user, :meth:`user_deletes`), answers 404
  ActivityNotFoundInConversation.
Every accepted activity is recorded; tests await arrivals with :meth:`wait_for` / :meth:`wait_for_async`, and see
what each message shows in the end with :meth:`copy`.
Message ids are what Teams gives in personal chats: the posting time in milliseconds, increasing.

It also plays Teams' side towards the bot (:meth:`attach_bot`): read receipts (the event
``application/vnd.microsoft.readReceipt``) and ``messageReaction`` activities, POSTed to the bot's messaging
endpoint with a channel token signed by the Bot Framework channel emulator's key, ``serviceUrl`` this emulator.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from aiohttp import web

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.server import ThreadedServer

READ_RECEIPT = "application/vnd.microsoft.readReceipt"

SEND_LIMITS = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
READ_LIMITS = ((14, 1.0), (16, 2.0), (120, 30.0), (3600, 3600.0))


def bf_error(status: int, code: str, message: str, retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


@dataclass
class Fault:
    status: int
    remaining: int
    body: dict[str, Any] | None = None
    retry_after: float | None = None


@dataclass
class Recorded:
    conversation_id: str
    activity: dict[str, Any]
    id: str
    kind: str  # send | reply | update | delete
    at: float = field(default_factory=time.monotonic)


@dataclass
class Copy:
    """A message as the people in its conversation see it now."""

    conversation_id: str
    activity: dict[str, Any]
    deleted: bool = False
    updates: int = 0  # PUTs accepted
    deletes: int = 0  # DELETEs accepted (more than one never happens: a deleted message answers 404)


class _Windows:
    def __init__(self, limits: tuple[tuple[int, float], ...]) -> None:
        self._limits = limits
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def admit(self, key: str, at: float) -> float | None:
        """None when admitted; otherwise seconds until the window frees."""
        hits = self._hits[key]
        longest = max(w for _, w in self._limits)
        while hits and at - hits[0] > longest:
            hits.popleft()
        for count, window in self._limits:
            recent = [t for t in hits if at - t < window]
            if len(recent) >= count:
                return window - (at - recent[-count])
        hits.append(at)
        return None


class ConnectorEmulator:
    def __init__(
        self,
        *,
        token_verifier: Callable[[str], dict[str, Any]] | None = None,
        require_auth: bool = True,
        ceiling_rps: float = 50.0,
        enforce_limits: bool = True,
        ssl_context: Any = None,
        port: int = 0,
    ) -> None:
        self._verify = token_verifier
        self.require_auth = require_auth
        self.ceiling_rps = ceiling_rps
        self.enforce_limits = enforce_limits
        self._sends = _Windows(SEND_LIMITS)
        self._reads = _Windows(READ_LIMITS)
        self._global: deque[float] = deque()
        self._cond = threading.Condition()
        self.recorded: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.random_5xx = 0.0
        self.random_5xx_statuses: tuple[int, ...] = (500, 502, 504)
        self._rng = random.Random(7)
        self.uninstalled: set[str] = set()
        self.without_app: set[str] = set()  # users who have not installed the bot (proactive install needed)
        self.write_delay = 0.0
        self.resets_after_receipt = 0  # the next N activity writes are recorded, then their connection is reset
        self.stalls_after_receipt = 0  # the next N activity writes are recorded, then answered after stall_seconds
        self.stall_seconds = 0.0
        self.storm_answers = 0  # 5xx answered by the random_5xx fault mode (a storm when it is 1.0)
        self.blocked: set[str] = set()
        self.disabled_tenants: set[str] = set()
        self.members: dict[str, list[dict[str, Any]]] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.created: dict[str, dict[str, Any]] = {}  # conversation id -> ConversationParameters
        self.copies: dict[str, Copy] = {}  # activity id -> the message it is now
        self.missing: Counter[str] = Counter()  # activity id -> updates/deletes answered 404 (gone or unknown)
        self.throttled = 0
        self.unauthorized = 0
        self._last_id = 0
        self._bot: tuple[str, str, BotFrameworkChannelEmulator] | None = None  # endpoint, app id, signer
        self._bot_token: tuple[float, str] | None = None
        app = web.Application()
        r = app.router
        r.add_post("/v3/conversations", self._create)
        r.add_post("/v3/conversations/{cid}/activities", self._send)
        r.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        r.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        r.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        r.add_get("/v3/conversations/{cid}/pagedmembers", self._paged_members)
        r.add_get("/v3/conversations/{cid}/members/{uid}", self._member)
        r.add_get("/v3/teams/{tid}", self._team)
        r.add_get("/v3/teams/{tid}/conversations", self._channels)
        self._server = ThreadedServer(app, ssl_context=ssl_context, port=port)
        self.url = ""

    # -- lifecycle and set-up ----------------------------------------------------------------------------
    def start(self) -> str:
        self.url = self._server.start() + "/"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def inject(
        self, status: int, count: int = 1, *, body: dict[str, Any] | None = None, retry_after: float | None = None
    ) -> None:
        self.faults.append(Fault(status, count, body, retry_after))

    def add_members(self, conversation_id: str, members: list[dict[str, Any]]) -> None:
        self.members.setdefault(conversation_id, []).extend(members)

    def add_team(self, team_id: str, name: str, channels: list[dict[str, str]]) -> None:
        self.teams[team_id] = {"id": team_id, "name": name, "aadGroupId": str(uuid.uuid4()), "channels": channels}

    # -- what arrived ------------------------------------------------------------------------------------
    def activities(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [
                r.activity for r in self.recorded if conversation_id is None or r.conversation_id == conversation_id
            ]

    def chat(self, conversation_id: str) -> list[Recorded] | None:
        """The messages posted to a conversation, oldest first (None for a conversation never seen): what Graph's
        chat messages show (see graph_chats)."""
        with self._cond:
            sent = [r for r in self.recorded if r.conversation_id == conversation_id and r.kind in ("send", "reply")]
            return sent if sent or conversation_id in self.created else None

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 10.0) -> list[Recorded]:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.recorded), timeout):
                raise TimeoutError(f"condition not met within {timeout} s; {len(self.recorded)} activities recorded")
            return list(self.recorded)

    def copy(self, activity_id: str) -> Copy | None:
        with self._cond:
            return self.copies.get(activity_id)

    def user_deletes(self, activity_id: str) -> None:
        """The recipient deletes the message on their side: later updates and deletes of it answer 404."""
        with self._cond:
            self.copies[activity_id].deleted = True

    async def wait_for_async(self, predicate: Callable[[list[Recorded]], bool], within: float = 10.0) -> list[Recorded]:
        return await asyncio.to_thread(self.wait_for, predicate, within)

    def _record(self, conversation_id: str, activity: dict[str, Any], kind: str, activity_id: str | None = None) -> str:
        with self._cond:
            if activity_id is None:
                self._last_id = max(self._last_id + 1, int(time.time() * 1000))
            new_id = activity_id or str(self._last_id)
            self.recorded.append(Recorded(conversation_id, activity, new_id, kind))
            self._cond.notify_all()
        return new_id

    # -- Teams' side towards the bot ----------------------------------------------------------------------
    def attach_bot(self, endpoint: str, *, app_id: str, channel: BotFrameworkChannelEmulator) -> None:
        """Where the bot listens (``.../api/messages``), its app id, and who signs the channel's tokens."""
        self._bot = (endpoint, app_id, channel)
        self._bot_token = None

    def _token(self) -> str:
        assert self._bot is not None
        if self._bot_token is None or self._bot_token[0] < time.time() + 300:  # one token, renewed before expiry
            _, app_id, channel = self._bot
            token = channel.mint_channel_token(audience=app_id, service_url=self.url, expires_in=3600)
            self._bot_token = (time.time() + 3600, token)
        return self._bot_token[1]

    def _inbound_activity(
        self, type_: str, conversation_id: str, *, user: str | None, tenant_id: str | None, conversation_type: str
    ) -> dict[str, Any]:
        """An activity as Teams sends it in ``conversation_id`` from ``user`` (Entra object id): for a 1:1 chat
        this emulator created, its member and tenant unless given."""
        created = self.created.get(conversation_id.partition(";")[0], {})
        user = user or str((created.get("members") or [{}])[0].get("id", ""))
        tenant = tenant_id or str(created.get("tenantId", ""))
        assert self._bot is not None, "attach_bot first"
        return {
            "type": type_,
            "id": f"f:{uuid.uuid4().hex}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "channelId": "msteams",
            "serviceUrl": self.url,
            "from": {"id": f"29:{user}", "aadObjectId": user},
            "recipient": {"id": f"28:{self._bot[1]}", "name": "Courier"},
            "conversation": {"id": conversation_id, "conversationType": conversation_type, "tenantId": tenant},
            "channelData": {"tenant": {"id": tenant}},
        }

    def read_receipt_activity(
        self, conversation_id: str, last_read_message_id: str, *, user: str | None = None, tenant_id: str | None = None
    ) -> dict[str, Any]:
        """The event Teams sends (personal chats only) when the user has read up to ``last_read_message_id``."""
        activity = self._inbound_activity(
            "event", conversation_id, user=user, tenant_id=tenant_id, conversation_type="personal"
        )
        activity.update(name=READ_RECEIPT, value={"lastReadMessageId": last_read_message_id})
        return activity

    def reaction_activity(
        self,
        conversation_id: str,
        message_id: str,
        *,
        added: tuple[str, ...] = (),
        removed: tuple[str, ...] = (),
        user: str | None = None,
        tenant_id: str | None = None,
        conversation_type: str = "personal",
    ) -> dict[str, Any]:
        """``messageReaction`` on the message ``message_id`` (a channel post's thread in ``conversation_id``)."""
        activity = self._inbound_activity(
            "messageReaction", conversation_id, user=user, tenant_id=tenant_id, conversation_type=conversation_type
        )
        activity["replyToId"] = message_id
        if added:
            activity["reactionsAdded"] = [{"type": r} for r in added]
        if removed:
            activity["reactionsRemoved"] = [{"type": r} for r in removed]
        return activity

    def channel_headers(self) -> dict[str, str]:
        """The headers the channel's POSTs to the bot carry (its signed token), for senders in another process."""
        return {"Authorization": f"Bearer {self._token()}"}

    async def deliver(self, activity: dict[str, Any], session: aiohttp.ClientSession | None = None) -> int:
        """POST an activity to the attached bot as the channel does; the bot's HTTP status."""
        assert self._bot is not None, "attach_bot first"
        headers = self.channel_headers()
        if session is None:
            async with aiohttp.ClientSession() as own, own.post(self._bot[0], json=activity, headers=headers) as r:
                return r.status
        async with session.post(self._bot[0], json=activity, headers=headers) as response:
            await response.read()
            return response.status

    # -- rules -------------------------------------------------------------------------------------------
    def _gate(self, request: web.Request, conversation_id: str | None, *, read: bool = False) -> web.Response | None:
        if self.require_auth:
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ").strip()
            try:
                if not token or self._verify is None:
                    raise jwt.InvalidTokenError("missing token")
                self._verify(token)
            except jwt.PyJWTError:
                self.unauthorized += 1
                return bf_error(401, "Unauthorized", "Authorization has been denied for this request.")
        if self.faults:
            fault = self.faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.popleft()
            if fault.status == 429:
                self.throttled += 1
            if fault.body is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
                return web.json_response(fault.body, status=fault.status, headers=headers)
            return bf_error(fault.status, "InjectedFault", f"injected {fault.status}", fault.retry_after)
        if self.random_5xx and self._rng.random() < self.random_5xx:
            self.storm_answers += 1
            return bf_error(self._rng.choice(self.random_5xx_statuses), "ServiceError", "transient failure")
        if conversation_id is not None:
            if conversation_id in self.uninstalled:
                return bf_error(404, "ConversationNotFound", "Conversation not found.")
            if conversation_id in self.blocked:
                return bf_error(403, "ConversationBlockedByUser", "User blocked the conversation with the bot.")
        if self.enforce_limits:
            at = time.monotonic()
            while self._global and at - self._global[0] >= 1.0:
                self._global.popleft()
            if len(self._global) >= self.ceiling_rps:
                self.throttled += 1
                return bf_error(429, "TooManyRequests", "App-wide rate limit exceeded.", 1.0 - (at - self._global[0]))
            if conversation_id is not None:
                wait = (self._reads if read else self._sends).admit(conversation_id, at)
                if wait is not None:
                    self.throttled += 1
                    return bf_error(429, "TooManyRequests", "Rate limit for this conversation exceeded.", wait)
            self._global.append(at)
        return None

    # -- routes ------------------------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        tenant = body.get("tenantId") or (body.get("channelData") or {}).get("tenant", {}).get("id")
        if tenant in self.disabled_tenants:
            return bf_error(403, "BotDisabledByAdmin", "The bot is disabled by the tenant admin.")
        problem = self._gate(request, None)
        if problem is not None:
            return problem
        members = body.get("members") or []
        if not members or not isinstance(members, list):
            return bf_error(400, "BadSyntax", "Incorrect conversation creation parameters")
        conversation_id = f"a:{uuid.uuid5(uuid.NAMESPACE_URL, str(members[0].get('id')) + str(tenant)).hex}"
        if conversation_id in self.uninstalled or str(members[0].get("id")).lower() in self.without_app:
            return bf_error(403, "Forbidden", "Bot is not installed in user's personal scope")
        self.created[conversation_id] = body
        return web.json_response({"id": conversation_id}, status=201)

    async def _activity_write(self, request: web.Request, kind: str) -> web.Response:
        """send, reply, update and delete share the gate and the record; they differ in shape only."""
        cid = request.match_info["cid"]
        problem = self._gate(request, cid.partition(";")[0])
        if problem is not None:
            return problem
        aid = request.match_info.get("aid")
        activity = await request.json() if kind != "delete" else {}
        if kind in {"update", "delete"} and not self._live(cid, aid or ""):
            with self._cond:
                self.missing[aid or ""] += 1
            return bf_error(404, "ActivityNotFoundInConversation", "Message does not exist in the thread.")
        if self.write_delay:
            await asyncio.sleep(self.write_delay)  # a slow service, so a test can stop a sender mid-flight
        if kind == "reply":
            activity.setdefault("replyToId", aid)
        recorded = self._record(cid, activity, kind, aid if kind in {"update", "delete"} else None)
        self._apply(cid, recorded, kind, activity)
        if self.resets_after_receipt > 0:
            # Delivered, but the connection drops before the answer: the sender cannot know it arrived.
            self.resets_after_receipt -= 1
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("connection reset after the activity was received")
        if self.stalls_after_receipt > 0:
            # Received, then the service hangs past the sender's timeout: the sender cannot know it arrived.
            self.stalls_after_receipt -= 1
            await asyncio.sleep(self.stall_seconds)
        if kind == "delete":
            return web.Response(status=200)
        return web.json_response({"id": recorded}, status=200 if kind == "update" else 201)

    def _live(self, conversation_id: str, activity_id: str) -> bool:
        with self._cond:
            copy = self.copies.get(activity_id)
            return copy is not None and not copy.deleted and copy.conversation_id == conversation_id

    def _apply(self, conversation_id: str, activity_id: str, kind: str, activity: dict[str, Any]) -> None:
        with self._cond:
            if kind in {"send", "reply"}:
                self.copies[activity_id] = Copy(conversation_id, activity)
                return
            copy = self.copies[activity_id]
            if kind == "update":
                copy.activity, copy.updates = activity, copy.updates + 1
            else:
                copy.deleted, copy.deletes = True, copy.deletes + 1

    async def _send(self, request: web.Request) -> web.Response:
        return await self._activity_write(request, "send")

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._activity_write(request, "reply")

    async def _update(self, request: web.Request) -> web.Response:
        return await self._activity_write(request, "update")

    async def _delete(self, request: web.Request) -> web.Response:
        return await self._activity_write(request, "delete")

    async def _paged_members(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        problem = self._gate(request, cid, read=True)
        if problem is not None:
            return problem
        members = self.members.get(cid)
        if members is None:
            return bf_error(404, "ConversationNotFound", "Conversation not found.")
        size = min(max(int(request.query.get("pageSize", "200")), 1), 500)
        start = int(request.query.get("continuationToken") or 0)
        page = members[start : start + size]
        body: dict[str, Any] = {"members": page}
        if start + size < len(members):
            body["continuationToken"] = str(start + size)
        return web.json_response(body)

    async def _member(self, request: web.Request) -> web.Response:
        cid, uid = request.match_info["cid"], request.match_info["uid"]
        problem = self._gate(request, cid, read=True)
        if problem is not None:
            return problem
        for member in self.members.get(cid, []):
            if uid in (member.get("id"), member.get("aadObjectId")):
                return web.json_response(member)
        return bf_error(404, "MemberNotFoundInConversation", "The member was not found in the conversation.")

    async def _team(self, request: web.Request) -> web.Response:
        problem = self._gate(request, None, read=True)
        if problem is not None:
            return problem
        team = self.teams.get(request.match_info["tid"])
        if team is None:
            return bf_error(404, "NotFound", "Team not found.")
        return web.json_response({k: v for k, v in team.items() if k != "channels"})

    async def _channels(self, request: web.Request) -> web.Response:
        problem = self._gate(request, None, read=True)
        if problem is not None:
            return problem
        team = self.teams.get(request.match_info["tid"])
        if team is None:
            return bf_error(404, "NotFound", "Team not found.")
        return web.json_response({"conversations": team["channels"]})
