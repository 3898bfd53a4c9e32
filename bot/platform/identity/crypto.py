"""Secrets at rest: AES-256-GCM with a key derived (HKDF-SHA256) from ``COURIER_ENCRYPTION_KEY``.

Ciphertexts are text ``v1.<nonce>.<ciphertext+tag>`` (URL-safe base64) and bound to a context string (the
associated data), so a token cache stored for one user cannot be swapped in for another.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class DecryptionError(ValueError):
    """The ciphertext was not made with this key and context (or was altered)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose`` (e.g. signing links), derived (HKDF-SHA256) from a secret setting: keys
    for different purposes are independent, and none of them is the at-rest encryption key."""
    if len(secret) < 32:
        raise ValueError("the secret must be at least 32 characters")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"courier/derived", info=purpose.encode("utf-8")).derive(
        secret.encode("utf-8")
    )


class TokenCipher:
    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the encryption key must be at least 32 characters")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"courier/at-rest", info=b"token-cache v1").derive(
            secret.encode("utf-8")
        )
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode("utf-8"))
        return f"{_VERSION}.{_b64(nonce)}.{_b64(sealed)}"

    def decrypt(self, token: str, context: str) -> bytes:
        try:
            version, nonce, sealed = token.split(".")
            if version != _VERSION:
                raise DecryptionError(f"unknown ciphertext version {version!r}")
            return self._aead.decrypt(_unb64(nonce), _unb64(sealed), context.encode("utf-8"))
        except (ValueError, InvalidTag) as exc:
            raise DecryptionError("the stored secret cannot be decrypted with this key") from exc


KEY_CHECK_NAMESPACE = "encryption"
KEY_CHECK_NAME = "key_check"
_KEY_CHECK_CONTEXT = "courier/key-check"
_KEY_CHECK_PLAINTEXT = b"Courier encryption key check"


class WrongEncryptionKey(RuntimeError):
    """The key given is not the one the stored secrets were encrypted with."""


class KeyCheckStore(Protocol):
    async def get_value(self, namespace: str, key: str) -> Any | None: ...

    async def put_value(self, namespace: str, key: str, value: Any) -> None: ...


async def check_key(cipher: TokenCipher, store: KeyCheckStore) -> None:
    """Refuse a key that differs from the one this database's secrets were sealed with (a check value stored the
    first time), instead of discovering it one deleted sign-in at a time."""
    stored = await store.get_value(KEY_CHECK_NAMESPACE, KEY_CHECK_NAME)
    if stored is None:
        await store.put_value(
            KEY_CHECK_NAMESPACE, KEY_CHECK_NAME, cipher.encrypt(_KEY_CHECK_PLAINTEXT, _KEY_CHECK_CONTEXT)
        )
        return
    try:
        ok = isinstance(stored, str) and cipher.decrypt(stored, _KEY_CHECK_CONTEXT) == _KEY_CHECK_PLAINTEXT
    except DecryptionError:
        ok = False
    if not ok:
        raise WrongEncryptionKey(
            "COURIER_ENCRYPTION_KEY is not the key this database's secrets were encrypted with; start with the "
            "original key (stored sign-ins and keys stay readable), or clear the stored secrets on purpose"
        )
