"""Reconciling the sends a crash interrupted: did the copy arrive?

The Bot Connector has no idempotency key, so a delivery caught between its committed *sending* mark and the request
leaving cannot just be sent again. Each outbound copy carries a per-delivery marker (an invisible element of its
Adaptive Card, whose ``id`` Graph returns inside the chatMessage attachment's ``content``, the card JSON as a
string); the engine reads the recipient's chat through Graph (``GET /chats/{chat-id}/messages``, newest first, with
the resource-specific permission ``ChatMessage.Read.Chat``) and looks for it: found -> sent; absent once the request
can no longer be in flight -> queued again; unknown (Graph unavailable, permission missing) -> left as it is.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

from bot.platform.graph.client import GraphClient
from bot.platform.graph.errors import GraphError, NotFound, PermissionDenied
from bot.platform.identity.credentials import AppCredential, CredentialError
from bot.platform.messaging.ledger import Delivery

logger = logging.getLogger(__name__)

PERMISSION = "ChatMessage.Read.Chat"
MARKER_PREFIX = "courier-delivery-"
NEWEST = 50  # Graph's largest $top for chat messages: an interrupted copy is among a chat's newest


def delivery_marker(delivery: Delivery) -> str:
    """The marker of one delivery's copy: stable across attempts, opaque (no recipient id in the card)."""
    digest = hashlib.sha256(f"{delivery.notification_id}\n{delivery.recipient_key}".encode()).hexdigest()
    return MARKER_PREFIX + digest[:32]


def with_marker(activity: dict[str, Any], delivery: Delivery) -> dict[str, Any]:
    """The activity with the delivery's marker as a hidden element of its card (the shared activity is untouched)."""
    attachments = activity.get("attachments") or []
    if not attachments or not isinstance(attachments[0].get("content"), dict):
        return activity
    card = attachments[0]["content"]
    hidden = {"type": "TextBlock", "id": delivery_marker(delivery), "text": " ", "isVisible": False}
    marked = {**card, "body": [*card.get("body", []), hidden]}
    return {**activity, "attachments": [{**attachments[0], "content": marked}, *attachments[1:]]}


class Arrival(StrEnum):
    FOUND = "found"
    ABSENT = "absent"
    UNKNOWN = "unknown"  # could not be read: leave the delivery as maybe delivered


@dataclass(frozen=True, slots=True)
class Verdict:
    arrival: Arrival
    activity_id: str | None = None


class Reconciler(Protocol):
    async def find(self, delivery: Delivery, conversation_id: str) -> Verdict: ...


class GraphReconciler:
    """Looks for a delivery's copy among the newest messages of its chat, with Courier's app credential. A tenant
    that refused (no resource-specific consent) is logged once and not asked again by this process."""

    def __init__(self, graph: GraphClient, credential: AppCredential) -> None:
        self._graph = graph
        self._credential = credential
        self._denied: set[str] = set()
        self._unavailable: set[str] = set()  # tenants whose last look failed (logged once until one succeeds)

    async def find(self, delivery: Delivery, conversation_id: str) -> Verdict:
        tenant = delivery.tenant_id
        if "channel" in delivery.recipient:  # a channel post: not a chat (its team's Graph id is not stored)
            return Verdict(Arrival.UNKNOWN)
        if tenant in self._denied:
            return Verdict(Arrival.UNKNOWN)
        caller = self._graph.app(self._credential, tenant)
        try:
            page = await caller.get(
                f"/chats/{quote(conversation_id, safe='')}/messages",
                params={"$top": str(NEWEST)},
                permission=PERMISSION,
            )
        except PermissionDenied:
            self._denied.add(tenant)
            logger.warning("cannot reconcile interrupted sends in tenant %s: %s not granted", tenant, PERMISSION)
            return Verdict(Arrival.UNKNOWN)
        except NotFound:
            return Verdict(Arrival.UNKNOWN)
        except (GraphError, CredentialError) as exc:
            if tenant not in self._unavailable:
                self._unavailable.add(tenant)
                logger.warning(
                    "cannot reconcile interrupted sends in tenant %s now (%s); looked at again later", tenant, exc
                )
            return Verdict(Arrival.UNKNOWN)
        self._unavailable.discard(tenant)
        marker = delivery_marker(delivery)
        for message in page.get("value", []) if isinstance(page, dict) else []:
            for attachment in message.get("attachments") or []:
                if marker in str(attachment.get("content") or ""):
                    return Verdict(Arrival.FOUND, str(message.get("id")))
        if isinstance(page, dict) and page.get("@odata.nextLink"):
            return Verdict(Arrival.UNKNOWN)  # a busy chat: the copy could be further back, so never guess "absent"
        return Verdict(Arrival.ABSENT)
