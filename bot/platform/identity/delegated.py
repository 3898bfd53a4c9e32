"""Delegated sign-in: acting as the user (calendars, meetings) with MSAL's authorization-code flow and PKCE.

1. :meth:`DelegatedAuth.begin` makes a single-use, expiring ``state`` bound to (tenant, user, conversation) and
   returns Courier's own ``/auth/start?state=...`` link for the sign-in card.
2. ``/auth/start`` asks MSAL for the authorize URL (PKCE verifier kept server-side, encrypted) and redirects.
3. ``/auth/callback`` takes the state (atomically: a replay finds nothing), redeems the code, checks the signed-in
   account is the Teams user who asked, and stores the user's MSAL token cache encrypted at rest.
4. :meth:`DelegatedAuth.get_token` refreshes silently; a rejected refresh token deletes the cache and raises
   :class:`SignInRequired` so the feature can show the sign-in card again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msal

from bot.platform.identity.crypto import DecryptionError, TokenCipher
from bot.platform.settings import Settings
from bot.platform.storage.base import Store

logger = logging.getLogger(__name__)

STATE_NAMESPACE = "auth_state"
CACHE_NAMESPACE = "token_cache"
STATE_TTL = timedelta(minutes=10)
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}


class SignInRequired(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidState(ValueError):
    """The callback's state is unknown, already used, expired or bound to someone else."""


class SignInFailed(RuntimeError):
    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True, slots=True)
class UserRef:
    tenant_id: str
    aad_object_id: str

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.aad_object_id}"


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: UserRef
    conversation_id: str | None
    name: str | None


def delegated_enabled(settings: Settings) -> bool:
    """Delegated sign-in needs a real app and a public URL for its callback."""
    return bool(settings.app_id and settings.public_url)


class DelegatedAuth:
    def __init__(self, settings: Settings, store: Store, cipher: TokenCipher, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._store = store
        self._cipher = cipher
        self._clock = clock
        self.redirect_uri = f"{settings.public_url.rstrip('/')}/auth/callback"
        self.scopes = [s for s in settings.delegated_scopes if s not in _RESERVED_SCOPES]

    # -- the flow ---------------------------------------------------------------------------------------
    async def begin(self, user: UserRef, conversation_id: str | None) -> str:
        state = secrets.token_urlsafe(24)
        expires = self._clock() + STATE_TTL
        await self._store.put_value(
            STATE_NAMESPACE,
            state,
            {
                "tenant": user.tenant_id,
                "user": user.aad_object_id,
                "conversation": conversation_id,
                "expires": expires.isoformat(),
                "flow": None,
            },
        )
        return f"{self._settings.public_url.rstrip('/')}/auth/start?state={state}"

    async def authorize_url(self, state: str) -> str:
        entry = await self._store.get_value(STATE_NAMESPACE, state)
        self._check_entry(entry)
        assert isinstance(entry, dict)
        app = self._app(entry["tenant"], None)
        flow = await asyncio.to_thread(
            app.initiate_auth_code_flow, self.scopes, redirect_uri=self.redirect_uri, state=state
        )
        entry["flow"] = self._cipher.encrypt(json.dumps(flow).encode("utf-8"), f"flow:{state}")
        await self._store.put_value(STATE_NAMESPACE, state, entry)
        return str(flow["auth_uri"])

    async def complete(self, query: dict[str, str]) -> SignedIn:
        state = query.get("state", "")
        entry = await self._store.take_value(STATE_NAMESPACE, state) if state else None
        self._check_entry(entry)
        assert isinstance(entry, dict)
        user = UserRef(entry["tenant"], entry["user"])
        if "error" in query:
            raise SignInFailed(query.get("error_description") or query["error"], error=query["error"])
        if not entry.get("flow"):
            raise InvalidState("the sign-in was not started from Courier's link")
        if not query.get("code"):
            raise SignInFailed("the answer from the sign-in page carried no authorization code", error="no_code")
        flow = json.loads(self._cipher.decrypt(entry["flow"], f"flow:{state}"))
        cache = msal.SerializableTokenCache()
        app = self._app(user.tenant_id, cache)
        try:
            result: dict[str, Any] = await asyncio.to_thread(app.acquire_token_by_auth_code_flow, flow, query)
        except ValueError as exc:  # MSAL's refusal of an answer that does not fit the flow (state, scopes)
            raise SignInFailed(f"the answer from the sign-in page does not fit the sign-in ({exc})") from exc
        if "access_token" not in result:
            raise SignInFailed(_first_line(result), error=str(result.get("error")))
        claims = result.get("id_token_claims") or {}
        if claims.get("oid") and claims["oid"] != user.aad_object_id:
            raise SignInFailed("you signed in with a different account than the one you use in Teams")
        await self._save(user, cache)
        logger.info("a user signed in", extra={"tenant_id": user.tenant_id})
        return SignedIn(user, entry.get("conversation"), claims.get("name"))

    def _check_entry(self, entry: Any) -> None:
        if not isinstance(entry, dict):
            raise InvalidState("this sign-in link is unknown or was already used")
        if datetime.fromisoformat(entry["expires"]) < self._clock():
            raise InvalidState("this sign-in link has expired")

    # -- tokens -----------------------------------------------------------------------------------------
    async def get_token(self, user: UserRef, scopes: list[str] | None = None) -> str:
        cache = await self._load(user)
        if cache is None:
            raise SignInRequired("not signed in")
        app = self._app(user.tenant_id, cache)
        accounts = app.get_accounts()
        if not accounts:
            await self.sign_out(user)
            raise SignInRequired("no account in the stored sign-in")
        wanted = scopes or self.scopes
        result = await asyncio.to_thread(app.acquire_token_silent_with_error, wanted, accounts[0])
        if not result or "access_token" not in result:
            error = (result or {}).get("error")
            logger.info("silent token refresh failed (%s); asking the user to sign in again", error)
            await self.sign_out(user)
            raise SignInRequired("your sign-in expired or was revoked")
        if cache.has_state_changed:
            await self._save(user, cache)
        return str(result["access_token"])

    async def granted_scopes(self, user: UserRef) -> frozenset[str]:
        cache = await self._load(user)
        if cache is None:
            return frozenset()
        scopes: set[str] = set()
        for token in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
            scopes.update(str(token.get("target", "")).split())
        return frozenset(s.rsplit("/", 1)[-1] for s in scopes)

    async def is_signed_in(self, user: UserRef) -> bool:
        return await self._store.get_value(CACHE_NAMESPACE, user.key) is not None

    async def sign_out(self, user: UserRef) -> bool:
        return await self._store.delete_value(CACHE_NAMESPACE, user.key)

    # -- storage ----------------------------------------------------------------------------------------
    async def _save(self, user: UserRef, cache: msal.SerializableTokenCache) -> None:
        sealed = self._cipher.encrypt(cache.serialize().encode("utf-8"), f"cache:{user.key}")
        await self._store.put_value(CACHE_NAMESPACE, user.key, sealed)

    async def _load(self, user: UserRef) -> msal.SerializableTokenCache | None:
        sealed = await self._store.get_value(CACHE_NAMESPACE, user.key)
        if not isinstance(sealed, str):
            return None
        try:
            plain = self._cipher.decrypt(sealed, f"cache:{user.key}")
        except DecryptionError:
            logger.warning("a stored sign-in cannot be decrypted (key changed?); the user must sign in again")
            await self.sign_out(user)
            return None
        cache = msal.SerializableTokenCache()
        cache.deserialize(plain.decode("utf-8"))
        return cache

    def _app(self, tenant: str, cache: msal.SerializableTokenCache | None) -> msal.ConfidentialClientApplication:
        from bot.platform.identity.credentials import client_credential

        return msal.ConfidentialClientApplication(
            self._settings.app_id,
            client_credential=client_credential(self._settings),
            authority=f"{self._settings.login_authority_host.rstrip('/')}/{tenant}",
            instance_discovery=False,
            token_cache=cache,
        )


def _first_line(result: dict[str, Any]) -> str:
    description = str(result.get("error_description") or result.get("error") or "unknown error")
    return description.split(" Trace ID", maxsplit=1)[0].strip()
