"""Click tracking: each delivery's copy of a card links through Courier's signed redirect, ``/l/{token}``.

The links of a card are its ``Action.OpenUrl`` actions (anywhere: actions, action sets, select actions, show-card
cards) and the markdown links ``[text](https://...)`` in its TextBlocks, numbered in document order; only ``http``
and ``https`` links are tracked (``mailto:`` and ``tel:`` stay as they are).

A token names (notification, recipient key, link number) and carries an HMAC-SHA256 of them under a key from
settings (``COURIER_LINK_SIGNING_KEY``, else derived from ``COURIER_ENCRYPTION_KEY``). The URL a click goes to is
read from the stored card by its number, never from the token, so the redirect cannot send anyone elsewhere: an
unsigned, altered or unknown token answers 404 and records nothing.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.platform.identity.crypto import derive_key
from bot.platform.messaging.ledger import Delivery
from bot.platform.settings import Settings

logger = logging.getLogger(__name__)

REDIRECT_PATH = "/l/"
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\((https?://[^\s()]+)\)", re.IGNORECASE)
_TRACKED = ("http://", "https://")
_MAC_BYTES = 16
_MAX_TOKEN_CHARS = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class LinkRef:
    """What a valid token names: one link of one delivery."""

    notification_id: str
    recipient_key: str
    link: int


class LinkSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkSigner | None:
        """The dedicated key, else one derived from the encryption key; None when neither is set."""
        if settings.link_signing_key:
            return cls(derive_key(settings.link_signing_key, "courier/link-signing v1"))
        if settings.encryption_key:
            return cls(derive_key(settings.encryption_key, "courier/link-signing v1"))
        return None

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, b"courier-link-v1." + payload.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES]

    def sign(self, ref: LinkRef) -> str:
        payload = _b64(json.dumps([ref.notification_id, ref.recipient_key, ref.link], separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def verify(self, token: str) -> LinkRef | None:
        """The link a token names, or None when it is not one this key signed (nothing about it is trusted)."""
        if len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        payload, mac = token.split(".")
        try:
            if not payload.isascii() or not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                return None
            values = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not (isinstance(values, list) and len(values) == 3):
            return None
        notification_id, recipient_key, link = values
        if not isinstance(notification_id, str) or not isinstance(recipient_key, str) or type(link) is not int:
            return None
        return LinkRef(notification_id, recipient_key, link)


# -- the links of a card ----------------------------------------------------------------------------------


def _visit(node: Any, on_action: Callable[[dict[str, Any]], None], on_text: Callable[[dict[str, Any]], None]) -> None:
    """Walk a card in document order, calling back at each OpenUrl action and each TextBlock."""
    if isinstance(node, dict):
        if node.get("type") == "Action.OpenUrl" and isinstance(node.get("url"), str):
            on_action(node)
        elif node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            on_text(node)
        for value in node.values():
            _visit(value, on_action, on_text)
    elif isinstance(node, list):
        for item in node:
            _visit(item, on_action, on_text)


def _tracked(url: str) -> bool:
    """http(s) links that can stand in a Location header as they are (no spaces or control characters)."""
    return url.lower().startswith(_TRACKED) and url.isprintable() and not any(c.isspace() for c in url)


def card_links(card: dict[str, Any]) -> list[str]:
    """The tracked links of a card, in the order their numbers follow."""
    found: list[str] = []

    def action(node: dict[str, Any]) -> None:
        if _tracked(node["url"]):
            found.append(node["url"])

    def text(node: dict[str, Any]) -> None:
        found.extend(m.group(2) for m in _MARKDOWN_LINK.finditer(node["text"]))

    _visit(card, action, text)
    return found


def rewrite_links(card: dict[str, Any], url_for: Callable[[int], str]) -> dict[str, Any] | None:
    """A copy of ``card`` whose tracked links go to ``url_for(number)``; None when it has none (nothing to copy)."""
    if not card_links(card):
        return None
    copied = copy.deepcopy(card)
    counter = itertools.count()

    def action(node: dict[str, Any]) -> None:
        if _tracked(node["url"]):
            node["url"] = url_for(next(counter))

    def text(node: dict[str, Any]) -> None:
        node["text"] = _MARKDOWN_LINK.sub(lambda m: f"[{m.group(1)}]({url_for(next(counter))})", node["text"])

    _visit(copied, action, text)
    return copied


class LinkTracker:
    """Signs each delivery's links as it is sent (a card hook of the outbox) and reads clicks back."""

    def __init__(self, signer: LinkSigner | None, public_url: str) -> None:
        self.signer = signer
        self._base = public_url.rstrip("/")
        if signer is None or not self._base:
            logger.info("click tracking is off: it needs COURIER_PUBLIC_URL and a signing key")

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkTracker:
        return cls(LinkSigner.from_settings(settings), settings.public_url)

    @property
    def enabled(self) -> bool:
        return self.signer is not None and bool(self._base)

    def card_hook(self, delivery: Delivery, card: dict[str, Any]) -> dict[str, Any] | None:
        signer = self.signer
        if signer is None or not self._base:
            return None
        ref = (delivery.notification_id, delivery.recipient_key)
        return rewrite_links(card, lambda n: f"{self._base}{REDIRECT_PATH}{signer.sign(LinkRef(*ref, n))}")

    def resolve(self, token: str) -> LinkRef | None:
        return self.signer.verify(token) if self.signer is not None else None
