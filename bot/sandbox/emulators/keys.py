"""RSA signing keys published as JWKS, as Microsoft's token services do."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.types import Options


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    endorsements: list[str] = field(default_factory=list)

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public.update({"kid": self.kid, "use": "sig", "x5t": b64url(hashlib.sha1(der, usedforsecurity=False).digest())})
        if self.endorsements:
            public["endorsements"] = list(self.endorsements)
        return public

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": kid or self.kid, "typ": "JWT"})

    def verify(self, token: str, *, audience: str | list[str] | None = None) -> dict[str, Any]:
        options: Options = {"verify_aud": audience is not None}
        claims: dict[str, Any] = jwt.decode(
            token, self.private.public_key(), algorithms=["RS256"], audience=audience, options=options
        )
        return claims


def now() -> int:
    return int(time.time())
