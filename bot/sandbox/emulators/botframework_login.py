"""Bot Framework channel authentication: the OpenID metadata and JWKS the bot validates inbound tokens with.

Serves ``/v1/.well-known/openidconfiguration`` and ``/v1/.well-known/keys`` in login.botframework.com's shapes
(keys carry ``endorsements``: the channels each key may sign for) and mints Bot-Connector-style tokens.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.emulators.keys import SigningKey, now
from bot.sandbox.emulators.server import ThreadedServer


class BotFrameworkChannelEmulator:
    def __init__(self, *, issuer: str = "https://api.botframework.com", ssl_context: Any = None) -> None:
        self.issuer = issuer
        self.key = SigningKey(endorsements=["msteams", "webchat", "emulator"])
        self.unendorsed_key = SigningKey(endorsements=["webchat"])
        self.rogue_key = SigningKey()  # never published
        self.metadata_requests = 0
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/.well-known/keys", self._keys)
        self._server = ThreadedServer(app, ssl_context=ssl_context)
        self.url = ""

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    def start(self) -> str:
        self.url = self._server.start()
        return self.url

    def stop(self) -> None:
        self._server.stop()

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_requests += 1
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.key.jwk(), self.unendorsed_key.jwk()]})

    def mint_channel_token(
        self,
        *,
        audience: str,
        service_url: str,
        expires_in: int = 3600,
        issuer: str | None = None,
        key: str = "endorsed",  # endorsed | unendorsed | rogue (bad signature under a listed kid)
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        issued = now()
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": issued - 60,
            "iat": issued - 60,
            "exp": issued + expires_in,
        }
        claims.update(extra_claims or {})
        if key == "unendorsed":
            return self.unendorsed_key.sign(claims)
        if key == "rogue":
            return self.rogue_key.sign(claims, kid=self.key.kid)
        return self.key.sign(claims)
