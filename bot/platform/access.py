"""Who is calling Courier's HTTP API, and what they may do.

A request is authenticated by exactly one of:

- ``Authorization: Bearer <API key>`` (``COURIER_API_KEYS``): a system, with today's rights (it sends, and sees
  what it sent);
- ``Authorization: Bearer <Entra token>``: an app-only token with the app role ``Notifications.Send`` (a system,
  likewise), or a person's single sign-on token from the Teams tab (scope ``access_as_user``);
- the console's session cookie (a person signed in with Microsoft in a browser). Every state change made with a
  session cookie must carry the session's CSRF token in ``X-CSRF-Token``; bearer callers need none (a browser never
  sends an Authorization header on its own).

People have roles: *sender* (``COURIER_SENDERS`` or a member of ``COURIER_SENDERS_GROUP``) and *admin*
(``COURIER_ADMINS`` or a member of ``COURIER_ADMINS_GROUP``; an admin sees every notification and may send).
Group membership is asked of Graph with the app's own token (``POST /users/{id}/checkMemberGroups``, transitive)
and remembered for five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.platform.graph.client import GraphClient
from bot.platform.graph.errors import GraphError
from bot.platform.identity.credentials import AppCredential, CredentialError
from bot.platform.identity.sessions import ConsoleSessions, ConsoleSignIn, Session
from bot.platform.identity.tokens import EntraTokenValidator, TokenRejected, UserCaller
from bot.platform.settings import Settings

logger = logging.getLogger(__name__)

SESSION_COOKIE = "courier_session"
CSRF_HEADER = "X-CSRF-Token"
SENDER = "sender"
ADMIN = "admin"
ROLES_TTL_SECONDS = 300.0
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Refused(Exception):
    """The request is not allowed: 401 (who are you?) or 403 (not you)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: a system (API key or app token) or a person (SSO token or console session)."""

    sender: str  # whose notifications: "api:<key id>", "entra:<tenant>:<app>", or "teams:<object id>" for people
    user: UserCaller | None = None
    roles: frozenset[str] = frozenset()
    session: Session | None = None

    @property
    def may_send(self) -> bool:
        """Systems keep today's rights; people need the sender or admin role."""
        return self.user is None or bool(self.roles & {SENDER, ADMIN})

    @property
    def sees_everything(self) -> bool:
        return self.user is not None and ADMIN in self.roles


def person_sender(user_id: str) -> str:
    """The sender id of a person: the same whether they send from Teams or from the console."""
    return f"teams:{user_id.lower()}"


class CallerAuth:
    def __init__(
        self,
        settings: Settings,
        *,
        tokens: EntraTokenValidator | None = None,
        sessions: ConsoleSessions | None = None,
        signin: ConsoleSignIn | None = None,
        graph: GraphClient | None = None,
        credential: AppCredential | None = None,
    ) -> None:
        self._settings = settings
        self.tokens = tokens
        self.sessions = sessions
        self.signin = signin  # the browser's "Sign in with Microsoft" (None without a public URL and a key)
        self._graph = graph
        self._credential = credential
        self._roles: dict[str, tuple[float, frozenset[str]]] = {}

    async def authenticate(self, request: web.Request) -> Caller:
        """The caller, or :class:`Refused` (401 when nobody valid is calling, 403 for a forged state change)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return await self._bearer(header.removeprefix("Bearer ").strip())
        session_id = request.cookies.get(SESSION_COOKIE, "")
        session = await self.sessions.get(session_id) if self.sessions is not None and session_id else None
        if session is None:
            raise Refused(401, "sign in, or send Authorization: Bearer <API key or Entra token>")
        if request.method not in _SAFE_METHODS:
            presented = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(presented.encode(), session.csrf.encode()):
                raise Refused(403, f"a change made with a console session needs the {CSRF_HEADER} header")
        return await self.person(session.user, session)

    async def person(self, user: UserCaller, session: Session | None = None) -> Caller:
        return Caller(person_sender(user.user_id), user, await self.roles(user), session)

    async def _bearer(self, presented: str) -> Caller:
        key = self.api_key(presented)
        if key is not None:
            return Caller(key)
        if self.tokens is None or presented.count(".") != 2:
            raise Refused(401, "a valid API key or Entra access token is required: Authorization: Bearer <...>")
        try:
            app = await self.tokens.validate(presented)
            return Caller(app.sender)
        except TokenRejected as app_refusal:
            try:
                return await self.person(await self.tokens.validate_user(presented))
            except TokenRejected as user_refusal:
                logger.info("an Entra token was refused: as an app's: %s; as a person's: %s", app_refusal, user_refusal)
        raise Refused(401, "the access token is not valid for Courier (signature, audience, expiry, tenant or scope)")

    def api_key(self, presented: str) -> str | None:
        digest = hashlib.sha256(presented.encode("utf-8")).hexdigest()
        matched = None
        for known in self._settings.api_key_hashes:  # constant time per comparison, every key compared
            if hmac.compare_digest(digest, known):
                matched = known
        return f"api:{matched[:12]}" if matched else None

    # -- roles ------------------------------------------------------------------------------------------
    async def roles(self, user: UserCaller) -> frozenset[str]:
        cached = self._roles.get(user.user_id)
        if cached is not None and time.monotonic() - cached[0] < ROLES_TTL_SECONDS:
            return cached[1]
        settings = self._settings
        groups = [g for g in (settings.senders_group, settings.admins_group) if g]
        member_of = await self._member_groups(user, groups) if groups else set()
        roles = set()
        if user.user_id in settings.senders or settings.senders_group in member_of:
            roles.add(SENDER)
        if user.user_id in settings.admins or settings.admins_group in member_of:
            roles.add(ADMIN)
        frozen = frozenset(roles)
        self._roles[user.user_id] = (time.monotonic(), frozen)
        return frozen

    async def _member_groups(self, user: UserCaller, groups: list[str]) -> set[str]:
        if self._graph is None or self._credential is None:
            logger.warning("sender/admin groups are set but Courier has no Graph credential to check membership")
            return set()
        caller = self._graph.app(self._credential, user.tenant_id)
        try:
            answer: Any = await caller.post(
                f"/users/{user.user_id}/checkMemberGroups",
                {"groupIds": groups},
                permission="GroupMember.Read.All",
            )
        except (GraphError, CredentialError) as exc:
            logger.warning("cannot check a person's group membership (%s); no group roles this time", exc)
            return set()
        return {str(g).lower() for g in (answer or {}).get("value", [])}
