"""Entra ID (login.microsoftonline.com) over HTTPS: tenant discovery, JWKS, and the v2.0 token endpoint.

Client credentials with a client secret or a certificate ``client_assertion`` (its signature is verified with
the registered certificate, found by the ``x5t`` / ``x5t#S256`` thumbprint). Errors use Entra's real body and codes.

Extension point: ``EntraEmulator.app`` is a plain ``aiohttp.web.Application``; add routes before ``start()``, and
``grant_handlers[grant_type] = async fn(emulator, tenant, form) -> web.Response`` adds grant types to the token
endpoint (delegated flows live in their own module that plugs in this way). ``issue_token(...)`` mints tokens.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.sandbox.emulators.keys import SigningKey, b64url, now
from bot.sandbox.emulators.server import ThreadedServer

GrantHandler = Callable[["EntraEmulator", str, dict[str, str]], Awaitable[web.Response]]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class RegisteredApp:
    client_id: str
    tenant: str
    secret: str | None = None
    certificate_pem: bytes | None = None
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # resource -> roles
    expires_in: int = 3600


def error(status: int, code: str, aadsts: int, description: str) -> web.Response:
    return web.json_response(
        {
            "error": code,
            "error_description": f"AADSTS{aadsts}: {description} Trace ID: {uuid.uuid4()} Correlation ID: "
            f"{uuid.uuid4()} Timestamp: 2026-11-22 00:00:00Z",
            "error_codes": [aadsts],
            "timestamp": "2026-11-22 00:00:00Z",
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=status,
    )


class EntraEmulator:
    def __init__(
        self, *, ssl_context: Any, host: str = "127.0.0.1", port: int = 0, sign_in_port: int | None = None
    ) -> None:
        """``sign_in_port``: the authorize (sign-in) page is also served over plain HTTP there and discovery points
        browsers at it, so a local browser opens it without a certificate warning (tokens stay on HTTPS)."""
        self.key = SigningKey()
        self.apps: dict[str, RegisteredApp] = {}
        self.tenants: set[str] = set()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.grant_handlers: dict[str, GrantHandler] = {"client_credentials": EntraEmulator._client_credentials}
        self.app = web.Application()
        self.app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery)
        self.app.router.add_get("/{tenant}/discovery/v2.0/keys", self._keys)
        self.app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._server = ThreadedServer(self.app, ssl_context=ssl_context, host=host, port=port, plain_port=sign_in_port)
        self.url = ""
        self.sign_in_url = ""

    def start(self) -> str:
        self.url = self._server.start()
        self.sign_in_url = self._server.plain_url or self.url
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def register_app(
        self,
        client_id: str,
        *,
        tenant: str,
        secret: str | None = None,
        certificate_pem: bytes | None = None,
        roles: dict[str, tuple[str, ...]] | None = None,
        expires_in: int = 3600,
    ) -> RegisteredApp:
        registered = RegisteredApp(client_id, tenant, secret, certificate_pem, roles or {}, expires_in)
        self.apps[client_id] = registered
        self.tenants.add(tenant)
        return registered

    def token_requests(self, client_id: str) -> int:
        return self.requests[client_id]

    def issue_token(self, *, audience: str, tenant: str, client_id: str, expires_in: int, **claims: Any) -> str:
        issued = now()
        body: dict[str, Any] = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{tenant}/",
            "tid": tenant,
            "appid": client_id,
            "azp": client_id,
            "oid": claims.pop("oid", str(uuid.uuid5(uuid.NAMESPACE_URL, client_id))),
            "iat": issued,
            "nbf": issued,
            "exp": issued + expires_in,
            "ver": "1.0",
        }
        body.update(claims)
        return self.key.sign(body)

    # -- routes -----------------------------------------------------------------------------------------
    async def _discovery(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        base = f"{self.url}/{tenant}"
        return web.json_response(
            {
                "issuer": f"{self.url}/{tenant}/v2.0",
                "authorization_endpoint": f"{self.sign_in_url or self.url}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": "EU",
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.key.jwk()]})

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        if tenant not in self.tenants and tenant not in {"common", "organizations"}:
            return error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        handler = self.grant_handlers.get(form.get("grant_type", ""))
        if handler is None:
            return error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        return await handler(self, tenant, form)

    async def _client_credentials(self, tenant: str, form: dict[str, str]) -> web.Response:
        client_id = form.get("client_id", "")
        with self._lock:
            self.requests[client_id] += 1
        registered = self.apps.get(client_id)
        if registered is None:
            return error(
                400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not found."
            )
        problem = self.authenticate_client(registered, form, f"{self.url}/{tenant}/oauth2/v2.0/token")
        if problem is not None:
            return problem
        scope = form.get("scope", "")
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid.")
        resource = scopes[0].removesuffix("/.default")
        token = self.issue_token(
            audience=resource,
            tenant=tenant,
            client_id=client_id,
            expires_in=registered.expires_in,
            roles=list(registered.roles.get(resource, ())),
        )
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": registered.expires_in,
                "ext_expires_in": registered.expires_in,
                "access_token": token,
            }
        )

    def authenticate_client(
        self, registered: RegisteredApp, form: dict[str, str], token_url: str
    ) -> web.Response | None:
        if "client_secret" in form:
            if registered.secret is None or form["client_secret"] != registered.secret:
                return error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                    f"secret value, not the client secret ID, for a secret added to app '{registered.client_id}'.",
                )
            return None
        if form.get("client_assertion_type") == ASSERTION_TYPE and "client_assertion" in form:
            return self._verify_assertion(registered, form["client_assertion"], token_url)
        return error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

    def _verify_assertion(self, registered: RegisteredApp, assertion: str, token_url: str) -> web.Response | None:
        if registered.certificate_pem is None:
            return error(401, "invalid_client", 700027, "Client assertion failed signature validation.")
        certificate = x509.load_pem_x509_certificate(registered.certificate_pem)
        der = certificate.public_bytes(serialization.Encoding.DER)
        header = {
            k: (v.rstrip("=") if isinstance(v, str) else v) for k, v in jwt.get_unverified_header(assertion).items()
        }
        sha1 = b64url(hashlib.sha1(der, usedforsecurity=False).digest())
        sha256 = b64url(hashlib.sha256(der).digest())
        if (
            header.get("x5t") not in (None, sha1)
            or header.get("x5t#S256") not in (None, sha256)
            or ("x5t" not in header and "x5t#S256" not in header)
        ):
            return error(
                401,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature. The key was not found.",
            )
        try:
            public_key = certificate.public_key()
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise jwt.InvalidKeyError("the emulator checks RSA certificates only")
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=["RS256", "PS256"],
                audience=[token_url, token_url.replace("/oauth2/v2.0/token", "/v2.0")],
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.PyJWTError as exc:
            return error(401, "invalid_client", 700027, f"Client assertion failed signature validation: {exc}.")
        if claims.get("iss") != registered.client_id or claims.get("sub") != registered.client_id:
            return error(401, "invalid_client", 700023, "Client assertion audience or issuer claim does not match.")
        return None


def thumbprint_sha1(certificate_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


__all__ = ["ASSERTION_TYPE", "EntraEmulator", "GrantHandler", "RegisteredApp", "error", "thumbprint_sha1"]
