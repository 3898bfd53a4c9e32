"""The console's browser sessions: "Sign in with Microsoft" (authorization code + PKCE through Courier) and the
server-side session it makes.

1. ``/console/signin`` -> :meth:`ConsoleSignIn.begin`: MSAL's auth-code flow (PKCE verifier kept server-side,
   encrypted, under a single-use state that expires in 10 minutes) -> Entra's authorize page. The state is bound
   to the browser that asked (a random value in a short-lived HttpOnly cookie, its digest with the state), so
   nobody can send someone else's browser through the callback signed in as themselves (login CSRF).
2. ``/console/callback`` -> :meth:`ConsoleSignIn.complete`: the state is taken atomically (a replay finds nothing),
   the browser binding checked, the code redeemed, the ID token's person checked (tenant allowed) ->
   :meth:`ConsoleSessions.create`.
3. The browser keeps only a random session id (an HttpOnly cookie). The store keeps the session under the id's
   SHA-256 (a copy of the database opens no session), sealed with ``COURIER_ENCRYPTION_KEY`` (like token caches):
   who it is, its CSRF token, when it ends. Sign-out deletes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import msal

from bot.platform.identity.crypto import DecryptionError, TokenCipher
from bot.platform.identity.delegated import InvalidState, SignInFailed
from bot.platform.identity.tokens import UserCaller, tenant_allowed
from bot.platform.settings import Settings
from bot.platform.storage.base import Store

logger = logging.getLogger(__name__)

SESSION_NAMESPACE = "console_session"
SIGNIN_NAMESPACE = "console_signin"
SESSION_TTL = timedelta(hours=8)
SIGNIN_TTL = timedelta(minutes=10)
SIGNIN_SCOPES = ["User.Read"]


@dataclass(frozen=True, slots=True)
class Session:
    user: UserCaller
    csrf: str
    expires: datetime


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class ConsoleSessions:
    def __init__(self, store: Store, cipher: TokenCipher, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._cipher = cipher
        self._clock = clock

    async def create(self, user: UserCaller) -> tuple[str, Session]:
        """A new session for ``user``: (the id for the cookie, the session)."""
        session_id = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(24), self._clock() + SESSION_TTL)
        key = _digest(session_id)
        plain = json.dumps({"user": asdict(user), "csrf": session.csrf, "expires": session.expires.isoformat()})
        await self._store.put_value(SESSION_NAMESPACE, key, self._cipher.encrypt(plain.encode(), f"session:{key}"))
        return session_id, session

    async def get(self, session_id: str) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        key = _digest(session_id)
        sealed = await self._store.get_value(SESSION_NAMESPACE, key)
        if not isinstance(sealed, str):
            return None
        try:
            data = json.loads(self._cipher.decrypt(sealed, f"session:{key}"))
        except (DecryptionError, ValueError):
            logger.warning("a console session cannot be decrypted (key changed?); it is dropped")
            await self._store.delete_value(SESSION_NAMESPACE, key)
            return None
        expires = datetime.fromisoformat(data["expires"])
        if expires <= self._clock():
            await self._store.delete_value(SESSION_NAMESPACE, key)
            return None
        return Session(UserCaller(**data["user"]), str(data["csrf"]), expires)

    async def delete(self, session_id: str) -> bool:
        return bool(session_id) and await self._store.delete_value(SESSION_NAMESPACE, _digest(session_id))


class ConsoleSignIn:
    """The browser's sign-in through Entra (MSAL's authorization-code flow with PKCE)."""

    def __init__(self, settings: Settings, store: Store, cipher: TokenCipher, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._store = store
        self._cipher = cipher
        self._clock = clock
        self.redirect_uri = f"{settings.public_url.rstrip('/')}/console/callback"

    async def begin(self) -> tuple[str, str]:
        """Entra's authorize URL for a new, single-use state, and the browser binding to keep in a cookie."""
        state = secrets.token_urlsafe(24)
        binding = secrets.token_urlsafe(24)
        app = self._app()
        flow = await asyncio.to_thread(
            app.initiate_auth_code_flow, SIGNIN_SCOPES, redirect_uri=self.redirect_uri, state=state
        )
        sealed = self._cipher.encrypt(json.dumps(flow).encode("utf-8"), f"console-flow:{state}")
        expires = (self._clock() + SIGNIN_TTL).isoformat()
        entry = {"flow": sealed, "expires": expires, "binding": _digest(binding)}
        await self._store.put_value(SIGNIN_NAMESPACE, state, entry)
        return str(flow["auth_uri"]), binding

    async def complete(self, query: dict[str, str], binding: str) -> UserCaller:
        state = query.get("state", "")
        entry = await self._store.take_value(SIGNIN_NAMESPACE, state) if state else None
        if not isinstance(entry, dict) or datetime.fromisoformat(entry["expires"]) < self._clock():
            raise InvalidState("this sign-in is unknown, expired or was already used")
        if not hmac.compare_digest(str(entry.get("binding", "")), _digest(binding)):
            raise InvalidState("this sign-in was started in another browser")
        if "error" in query:
            raise SignInFailed(query.get("error_description") or query["error"], error=query["error"])
        flow = json.loads(self._cipher.decrypt(entry["flow"], f"console-flow:{state}"))
        result: dict[str, Any] = await asyncio.to_thread(self._app().acquire_token_by_auth_code_flow, flow, query)
        if "id_token_claims" not in result:
            description = str(result.get("error_description") or result.get("error") or "unknown error")
            raise SignInFailed(description.split(" Trace ID", 1)[0], error=str(result.get("error")))
        claims = result["id_token_claims"]
        tenant, user_id = str(claims.get("tid", "")).lower(), str(claims.get("oid", "")).lower()
        if not user_id or not tenant_allowed(self._settings, tenant):
            raise SignInFailed("this account's organization may not use this Courier", error="tenant_not_allowed")
        upn = str(claims.get("preferred_username") or "")
        return UserCaller(tenant, user_id, str(claims.get("name") or upn), upn)

    def _app(self) -> msal.ConfidentialClientApplication:
        from bot.platform.identity.credentials import client_credential

        tenant = self._settings.app_tenant_id or "organizations"
        return msal.ConfidentialClientApplication(
            self._settings.app_id,
            client_credential=client_credential(self._settings),
            authority=f"{self._settings.login_authority_host.rstrip('/')}/{tenant}",
            instance_discovery=False,
        )
