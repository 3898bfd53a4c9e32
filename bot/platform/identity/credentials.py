"""Courier's one app-only credential: the Bot Connector token and Graph app tokens both come from here.

A client secret (``MicrosoftAppPassword``) or a certificate (``COURIER_APP_CERTIFICATE_PATH``, PEM with the private
key and the certificate; the thumbprint is derived) through MSAL, or a user-assigned managed identity through
azure-identity. MSAL is told ``instance_discovery=False`` so the authority host is a setting (Microsoft's, a
sovereign cloud's, or a local emulator's).

Tokens are cached per (tenant, scope) and refreshed ahead of expiry; concurrent async callers share one refresh,
and the synchronous path (botbuilder calls it from its thread pool) is thread-safe.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msal
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.platform.settings import AppType, Settings

logger = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 300


class CredentialError(RuntimeError):
    """A token could not be had. ``code`` is the AADSTS code when Entra gave one. Never carries a secret."""

    def __init__(self, message: str, *, code: str | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.error = error


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str = field(repr=False)
    expires_on: float  # epoch seconds
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def roles(self) -> frozenset[str]:
        roles = self.claims.get("roles")
        return frozenset(roles) if isinstance(roles, list) else frozenset()


class AppCredential(Protocol):
    def get_token_sync(self, scope: str, *, tenant_id: str | None = None) -> str: ...

    async def get_token(self, scope: str, *, tenant_id: str | None = None) -> AccessToken: ...

    @property
    def method(self) -> str:
        """``secret``, ``certificate`` or ``managed_identity``."""
        ...


def default_scope(scope: str) -> str:
    return scope if scope.endswith("/.default") else f"{scope.rstrip('/')}/.default"


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT we received from the token service (already trusted by TLS); for roles and expiry."""
    try:
        payload = token.split(".")[1]
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return decoded
    except (IndexError, ValueError):
        return {}


_AADSTS = re.compile(r"AADSTS(\d+)")


@dataclass(frozen=True, slots=True)
class CertificateMaterial:
    private_key_pem: str = field(repr=False)
    certificate_pem: str
    thumbprint_sha1: str
    thumbprint_sha256: str


def load_certificate(path: Path) -> CertificateMaterial:
    """Read a PEM holding a private key and a certificate; derive both thumbprints."""
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise CredentialError(f"{path} holds no readable unencrypted private key") from exc
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise CredentialError(f"{path} holds no PEM certificate next to the key") from exc
    der = certificate.public_bytes(serialization.Encoding.DER)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return CertificateMaterial(
        private_key_pem=key_pem,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        thumbprint_sha1=hashlib.sha1(der).hexdigest().upper(),  # noqa: S324 - Entra's thumbprint is SHA-1
        thumbprint_sha256=hashlib.sha256(der).hexdigest().upper(),
    )


class _CachedCredential:
    """Per (tenant, scope) cache with refresh ahead of expiry; subclasses fetch."""

    def __init__(self, default_tenant: str) -> None:
        self._default_tenant = default_tenant
        self._tokens: dict[tuple[str, str], AccessToken] = {}
        self._thread_locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def _fetch(self, tenant: str, scope: str) -> AccessToken:
        raise NotImplementedError

    def _fresh(self, key: tuple[str, str]) -> AccessToken | None:
        token = self._tokens.get(key)
        if token is not None and token.expires_on - REFRESH_MARGIN_SECONDS > time.time():
            return token
        return None

    def _get(self, scope: str, tenant_id: str | None) -> AccessToken:
        key = (tenant_id or self._default_tenant, default_scope(scope))
        token = self._fresh(key)
        if token is not None:
            return token
        with self._guard:
            lock = self._thread_locks.setdefault(key, threading.Lock())
        with lock:  # one refresh per key; others wait and reuse it
            token = self._fresh(key)
            if token is None:
                token = self._fetch(*key)
                self._tokens[key] = token
            return token

    def get_token_sync(self, scope: str, *, tenant_id: str | None = None) -> str:
        return self._get(scope, tenant_id).token

    async def get_token(self, scope: str, *, tenant_id: str | None = None) -> AccessToken:
        key = (tenant_id or self._default_tenant, default_scope(scope))
        token = self._fresh(key)
        if token is not None:
            return token
        return await asyncio.to_thread(self._get, scope, tenant_id)


def client_credential(settings: Settings) -> str | dict[str, str]:
    """What MSAL's ConfidentialClientApplication takes: the secret, or the certificate with its thumbprint."""
    if settings.app_certificate_path:
        material = load_certificate(Path(settings.app_certificate_path))
        return {
            "private_key": material.private_key_pem,
            "thumbprint": material.thumbprint_sha1,
            "public_certificate": material.certificate_pem,
        }
    return settings.app_password


class MsalAppCredential(_CachedCredential):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.app_tenant_id or "botframework.com")
        self._settings = settings
        self._apps: dict[str, msal.ConfidentialClientApplication] = {}
        self._client_credential: Any = client_credential(settings)
        self._method = "certificate" if settings.app_certificate_path else "secret"

    @property
    def method(self) -> str:
        return self._method

    def _app(self, tenant: str) -> msal.ConfidentialClientApplication:
        with self._guard:
            app = self._apps.get(tenant)
            if app is None:
                app = msal.ConfidentialClientApplication(
                    self._settings.app_id,
                    client_credential=self._client_credential,
                    authority=f"{self._settings.login_authority_host.rstrip('/')}/{tenant}",
                    instance_discovery=False,
                )
                self._apps[tenant] = app
            return app

    def _fetch(self, tenant: str, scope: str) -> AccessToken:
        try:
            result = self._app(tenant).acquire_token_for_client(scopes=[scope])
        except ValueError as exc:  # MSAL raises ValueError when discovery fails (unreachable or unknown tenant)
            raise CredentialError(f"could not reach the login authority for tenant {tenant}: {exc}") from exc
        if "access_token" not in result:
            description = str(result.get("error_description", ""))
            code_match = _AADSTS.search(description)
            first_line = description.split(" Trace ID", maxsplit=1)[0].strip()
            raise CredentialError(
                f"Entra refused a token for {scope} in tenant {tenant}: {result.get('error')}: {first_line}",
                code=f"AADSTS{code_match.group(1)}" if code_match else None,
                error=str(result.get("error")),
            )
        token = str(result["access_token"])
        expires_in = float(result.get("expires_in", 3600))
        logger.info("got an app token", extra={"scope": scope, "tenant_id": tenant, "method": self._method})
        return AccessToken(token=token, expires_on=time.time() + expires_in, claims=unverified_claims(token))


class ManagedIdentityCredential(_CachedCredential):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.app_tenant_id)
        from azure.identity import ManagedIdentityCredential as AzureMI

        self._credential = AzureMI(client_id=settings.managed_identity_client_id or settings.app_id)

    @property
    def method(self) -> str:
        return "managed_identity"

    def _fetch(self, tenant: str, scope: str) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            result = self._credential.get_token(scope)
        except ClientAuthenticationError as exc:
            raise CredentialError(f"the managed identity could not get a token for {scope}: {exc.message}") from exc
        return AccessToken(
            token=result.token, expires_on=float(result.expires_on), claims=unverified_claims(result.token)
        )


def credential_from_settings(settings: Settings) -> AppCredential | None:
    """The app credential these settings describe; None in anonymous local mode."""
    if settings.anonymous:
        return None
    if settings.app_type is AppType.USER_ASSIGNED_MSI:
        return ManagedIdentityCredential(settings)
    return MsalAppCredential(settings)
