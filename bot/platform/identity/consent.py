"""Admin consent: an admin grants Courier's application permissions for their tenant (or declines).

``/admin/consent?tenant=...`` redirects to Entra's admin consent page; Entra sends the admin back to
``/admin/consent/callback`` with ``admin_consent=True`` or ``error=access_denied``. The tenant record keeps the
outcome, and the chat that asked is told what happened and what to do next.

Nothing in the callback's query is trusted: the tenant is the one its single-use, expiring state was issued for,
and "granted" is recorded only when Entra confirms it by issuing Courier an app-only token for that tenant carrying
the roles it was granted. Expired states are pruned whenever a new one is issued.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from bot.platform.identity.credentials import AppCredential
from bot.platform.settings import Settings
from bot.platform.storage.base import Store
from bot.platform.storage.models import TenantRecord, TenantStatus

logger = logging.getLogger(__name__)

CONSENT_NAMESPACE = "consent_state"
CONSENT_TTL = timedelta(hours=1)
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_TENANT = re.compile(r"^([0-9a-fA-F-]{36}|[A-Za-z0-9.-]+\.[A-Za-z]{2,})$")


class ConsentError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ConsentResult:
    tenant_id: str
    granted: bool
    conversation_id: str | None
    error: str | None = None
    description: str | None = None
    roles: frozenset[str] = frozenset()


def admin_consent_url(settings: Settings, tenant_id: str, state: str | None = None) -> str:
    query = {
        "client_id": settings.app_id,
        "redirect_uri": f"{settings.public_url.rstrip('/')}/admin/consent/callback",
    }
    if state:
        query["state"] = state
    return f"{settings.login_authority_host.rstrip('/')}/{tenant_id}/adminconsent?{urlencode(query)}"


def valid_tenant(tenant_id: str) -> bool:
    return len(tenant_id) <= 253 and bool(_TENANT.match(tenant_id))


class AdminConsent:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        credential: AppCredential | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._credential = credential

    async def _new_state(self, tenant_id: str, conversation_id: str | None) -> str:
        await self._prune()
        state = secrets.token_urlsafe(24)
        expires = (self._clock() + CONSENT_TTL).isoformat()
        entry = {"tenant": tenant_id, "conversation": conversation_id, "expires": expires}
        await self._store.put_value(CONSENT_NAMESPACE, state, entry)
        return state

    async def _prune(self) -> None:
        now = self._clock()
        for state, entry in await self._store.values(CONSENT_NAMESPACE):
            expires = entry.get("expires") if isinstance(entry, dict) else None
            if not isinstance(expires, str) or datetime.fromisoformat(expires) < now:
                await self._store.delete_value(CONSENT_NAMESPACE, state)

    async def link(self, tenant_id: str, conversation_id: str | None) -> str:
        """Courier's own link for a consent card; it remembers which chat to tell about the outcome."""
        state = await self._new_state(tenant_id, conversation_id)
        base = self._settings.public_url.rstrip("/")
        return f"{base}/admin/consent?{urlencode({'tenant': tenant_id, 'state': state})}"

    async def redirect_url(self, tenant_id: str, state: str | None) -> str:
        if not valid_tenant(tenant_id or ""):
            raise ConsentError("the tenant must be a tenant id (GUID) or a verified domain")
        if not state:  # started outside Teams (e.g. from the README): remember nothing but the tenant
            state = await self._new_state(tenant_id, None)
        return admin_consent_url(self._settings, tenant_id, state)

    async def _granted_roles(self, tenant_id: str) -> frozenset[str] | None:
        """The application roles Entra grants Courier in ``tenant_id`` now, or None when it issues no token."""
        if self._credential is None:
            return None
        try:
            token = await self._credential.get_token(GRAPH_SCOPE, tenant_id=tenant_id)
        except Exception as exc:
            logger.info("no app-only token for a tenant after its consent callback: %s", type(exc).__name__)
            return None
        return token.roles

    async def complete(self, query: dict[str, str]) -> ConsentResult:
        state = query.get("state", "")
        entry = await self._store.take_value(CONSENT_NAMESPACE, state) if state else None
        if not isinstance(entry, dict) or datetime.fromisoformat(entry["expires"]) < self._clock():
            raise ConsentError("this consent link is unknown, expired or was already used")
        tenant_id = str(entry["tenant"])
        if query.get("tenant") and query["tenant"].lower() != tenant_id.lower():
            raise ConsentError("this consent link was issued for another tenant")
        roles = await self._granted_roles(tenant_id)
        granted = roles is not None and (bool(roles) or "error" not in query)
        now = self._clock()
        existing = await self._store.get_tenant(tenant_id)
        status = TenantStatus.ACTIVE if granted else TenantStatus.CONSENT_DENIED
        await self._store.upsert_tenant(
            TenantRecord(
                tenant_id=tenant_id,
                name=existing.name if existing else None,
                auth_method="certificate" if self._settings.app_certificate_path else "secret",
                status=status,
                linked_at=existing.linked_at if existing and existing.linked_at else now,
                updated_at=now,
            )
        )
        logger.info("admin consent %s", "granted" if granted else "declined", extra={"tenant_id": tenant_id})
        return ConsentResult(
            tenant_id=tenant_id,
            granted=granted,
            conversation_id=entry.get("conversation"),
            error=query.get("error"),
            description=(query.get("error_description") or "").split(" Trace ID")[0][:500] or None,
            roles=roles or frozenset(),
        )
