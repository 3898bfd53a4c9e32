"""Validating Entra access tokens that other systems present to Courier's own API (the notifications API).

A caller (a CRM, a scheduler) gets an app-only token for Courier's app id (``api://<app id>/.default``) and sends
it as ``Authorization: Bearer``. Courier accepts it only when:

- its signature verifies against the Entra signing keys (OpenID metadata -> ``jwks_uri``, cached, refreshed when an
  unknown key id appears, at most once a minute);
- its issuer is Entra's for the token's tenant (v1 ``https://sts.windows.net/{tid}/`` or v2
  ``{authority}/{tid}/v2.0``), it is unexpired, and its audience is Courier's app id or ``api://<app id>``;
- its tenant is allowed (the app's own tenant for single-tenant apps; ``COURIER_ALLOWED_TENANTS`` otherwise);
- it carries the app role the API asks for (``Notifications.Send`` for notifications, ``Meetings.Write`` for
  meetings): an admin assigns that role to the calling app in Entra, so a token any app of the tenant could obtain
  for Courier is not enough. A valid token without the role raises :class:`RoleMissing` (a 403 where the API tells
  authentication from authorization apart).

:func:`authenticate` is the one check of an API caller: an API key from ``COURIER_API_KEYS`` (compared as SHA-256
digests in constant time), or such a token.

The console's single sign-on in Teams (``authentication.getAuthToken()``) presents a *user's* token instead
(:meth:`EntraTokenValidator.validate_user`): same signature, issuer and tenant checks, audience
``api://<public host>/<app id>`` (or the app id), and the delegated scope ``access_as_user``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
from jwt.algorithms import RSAAlgorithm

from bot.platform.settings import AppType, Settings

logger = logging.getLogger(__name__)

SEND_ROLE = "Notifications.Send"
USER_SCOPE = "access_as_user"
_REFRESH_FLOOR_SECONDS = 60.0
_KEYS_TTL_SECONDS = 24 * 3600.0


class TokenRejected(Exception):
    """Why a token was refused (logged; callers only ever see a plain 401)."""


class RoleMissing(TokenRejected):
    """A valid token whose calling app lacks the app role asked for."""


@dataclass(frozen=True, slots=True)
class ApiCaller:
    tenant_id: str
    app_id: str

    @property
    def sender(self) -> str:
        return f"entra:{self.tenant_id}:{self.app_id}"


@dataclass(frozen=True, slots=True)
class UserCaller:
    """A person, from a single sign-on token (or a console session made from a sign-in)."""

    tenant_id: str
    user_id: str  # the Entra object id, lower case
    name: str
    upn: str


def sso_resource(settings: Settings) -> str:
    """The application ID URI Teams asks tokens for: ``api://<public host>/<app id>`` (the manifest's resource)."""
    host = urlsplit(settings.public_url).hostname if settings.public_url else ""
    return f"api://{host}/{settings.app_id}" if host else f"api://{settings.app_id}"


def tenant_allowed(settings: Settings, tenant: str) -> bool:
    """Whether callers from ``tenant`` may use Courier: the app's own tenant for single-tenant apps (or when no list
    is set), else the tenants in ``COURIER_ALLOWED_TENANTS``."""
    if settings.app_type is AppType.SINGLE_TENANT or not settings.allowed_tenants:
        own = (settings.app_tenant_id or "").lower()
        return bool(own) and tenant == own and settings.tenant_allowed(tenant)
    return settings.tenant_allowed(tenant)


class EntraTokenValidator:
    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._settings = settings
        self._ssl = ssl_context
        self._authority = settings.login_authority_host.rstrip("/")
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._settings.app_id)

    async def validate(self, token: str, role: str = SEND_ROLE) -> ApiCaller:
        """An app-only token carrying the app role ``role`` (``Notifications.Send`` unless asked otherwise)."""
        app_id = self._settings.app_id
        claims = await self._claims(token, [app_id, f"api://{app_id}"])
        if role not in (claims.get("roles") or []):
            raise RoleMissing(f"the calling app lacks the app role {role}")
        caller_app = str(claims.get("azp") or claims.get("appid") or "")
        if not caller_app:
            raise TokenRejected("the token names no calling app (azp/appid)")
        return ApiCaller(tenant_id=str(claims["tid"]).lower(), app_id=caller_app)

    async def validate_user(self, token: str) -> UserCaller:
        """A person's single sign-on token for Courier: scope ``access_as_user``, a user's object id."""
        app_id = self._settings.app_id
        claims = await self._claims(token, [sso_resource(self._settings), app_id, f"api://{app_id}"])
        if USER_SCOPE not in str(claims.get("scp") or "").split():
            raise TokenRejected(f"the token lacks the delegated scope {USER_SCOPE}")
        user_id = str(claims.get("oid") or "").lower()
        if not user_id:
            raise TokenRejected("the token names no user (oid)")
        upn = str(claims.get("preferred_username") or claims.get("upn") or "")
        return UserCaller(str(claims["tid"]).lower(), user_id, str(claims.get("name") or upn), upn)

    async def _claims(self, token: str, audiences: list[str]) -> dict[str, Any]:
        if not self.enabled:
            raise TokenRejected("Entra tokens need MicrosoftAppId")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"malformed token: {exc}") from None
        if header.get("alg") != "RS256":
            raise TokenRejected(f"unexpected signing algorithm {header.get('alg')!r}")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=audiences,
                options={"require": ["exp", "iss", "aud", "tid"]},
                leeway=300,
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"invalid token: {exc}") from None
        tenant = str(claims["tid"]).lower()
        issuers = {f"https://sts.windows.net/{tenant}/", f"{self._authority}/{tenant}/v2.0"}
        if str(claims["iss"]).lower() not in issuers:
            raise TokenRejected("issuer is not Entra's for the token's tenant")
        if not self._tenant_allowed(tenant):
            raise TokenRejected(f"tenant {tenant} is not allowed")
        return claims

    def _tenant_allowed(self, tenant: str) -> bool:
        return tenant_allowed(self._settings, tenant)

    async def _key(self, kid: str) -> Any:
        if kid in self._keys and time.monotonic() - self._fetched_at < _KEYS_TTL_SECONDS:
            return self._keys[kid]
        async with self._lock:
            stale = time.monotonic() - self._fetched_at
            if kid not in self._keys or stale >= _KEYS_TTL_SECONDS:
                if stale < _REFRESH_FLOOR_SECONDS and self._keys:
                    raise TokenRejected(f"unknown signing key {kid!r}")  # no key-id storms against Entra
                await self._refresh()
        if kid not in self._keys:
            raise TokenRejected(f"unknown signing key {kid!r}")
        return self._keys[kid]

    async def _refresh(self) -> None:
        metadata_url = f"{self._authority}/common/v2.0/.well-known/openid-configuration"
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(metadata_url, ssl=self._ssl or True) as response:
                    response.raise_for_status()
                    jwks_uri = str((await response.json(content_type=None))["jwks_uri"])
                async with session.get(jwks_uri, ssl=self._ssl or True) as response:
                    response.raise_for_status()
                    jwks = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
            raise TokenRejected(f"cannot fetch Entra signing keys: {type(exc).__name__}") from None
        keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid"):
                keys[str(jwk["kid"])] = RSAAlgorithm.from_jwk(json.dumps(jwk))
        self._keys = keys
        self._fetched_at = time.monotonic()
        logger.info("fetched %d Entra signing keys", len(keys))


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who called an API: ``sender`` names them (an API key's digest prefix, or the Entra app); ``tenant_id`` is
    the token's tenant (None for an API key); ``status`` is 401 or 403 when they may not."""

    sender: str | None
    tenant_id: str | None = None
    status: int = 200


def api_key_sender(settings: Settings, presented: str) -> str | None:
    digest = hashlib.sha256(presented.encode("utf-8")).hexdigest()
    matched = None
    for known in settings.api_key_hashes:  # constant time per comparison, every key compared
        if hmac.compare_digest(digest, known):
            matched = known
    return f"api:{matched[:12]}" if matched else None


async def authenticate(
    settings: Settings, tokens: EntraTokenValidator | None, authorization: str, role: str
) -> Authenticated:
    """An ``Authorization: Bearer`` header checked: an API key, or an Entra token carrying ``role``."""
    if not authorization.startswith("Bearer "):
        return Authenticated(None, status=401)
    presented = authorization.removeprefix("Bearer ").strip()
    sender = api_key_sender(settings, presented)
    if sender is not None:
        return Authenticated(sender)
    if tokens is None or presented.count(".") != 2:
        return Authenticated(None, status=401)
    try:
        caller = await tokens.validate(presented, role)
    except RoleMissing as exc:
        logger.info("API: Entra token without the role: %s", exc)
        return Authenticated(None, status=403)
    except TokenRejected as exc:
        logger.info("API: Entra token refused: %s", exc)
        return Authenticated(None, status=401)
    return Authenticated(caller.sender, caller.tenant_id)
