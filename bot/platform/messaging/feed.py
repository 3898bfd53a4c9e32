"""Important notifications also reach the Teams activity feed (the Activity bell), not only the chat.

After a chat copy of an ``important`` notification was sent to a person, Courier asks Graph for an activity-feed
notification: ``POST /users/{id}/teamwork/sendActivityNotification`` (application permission ``TeamsActivity.Send``)
with the activity type the manifest declares (``activities.activityTypes``). The call goes through the Graph client
(paced per tenant, 429s retried after Retry-After); its outcome is recorded on the delivery (``sent``, or
``failed:<reason>``) and never changes the chat delivery's state. At most once: a crash between the chat send and the
feed call loses the feed notification, never duplicates the chat card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bot.platform.graph.client import GraphClient
from bot.platform.graph.errors import GraphError, NotFound, PermissionDenied
from bot.platform.identity.credentials import AppCredential, CredentialError
from bot.platform.messaging.ledger import Delivery, OutreachLedger
from bot.platform.storage.base import Store

logger = logging.getLogger(__name__)

PERMISSION = "TeamsActivity.Send"
ACTIVITY_TYPE = "importantAnnouncement"  # declared in manifest/manifest.json.j2 with this template text
TEMPLATE_TEXT = "{actor} sent an important announcement: {title}"
TEMPLATE_PARAMETERS = ("title",)
PREVIEW_LIMIT = 150  # Teams shows the first 150 characters of the preview


def card_title(card: dict[str, Any]) -> str:
    """The first text of a card (what a notification's summary shows too)."""
    for block in card.get("body", []):
        if isinstance(block, dict) and block.get("type") == "TextBlock" and block.get("text"):
            return str(block["text"])
    return "New announcement"


class ActivityFeed:
    def __init__(
        self,
        store: Store,
        graph: GraphClient,
        credential: AppCredential,
        *,
        app_id: str,
        clock: Callable[[], datetime],
        cache_size: int = 256,
    ) -> None:
        self._ledger = OutreachLedger(store.db)
        self._graph = graph
        self._credential = credential
        self._app_id = app_id
        self._clock = clock
        self._titles: dict[str, str | None] = {}  # notification id -> its title when important, else None
        self._size = cache_size

    async def _title_if_important(self, notification_id: str) -> str | None:
        if notification_id not in self._titles:
            notification = await self._ledger.get_notification(notification_id)
            if len(self._titles) >= self._size:
                self._titles.pop(next(iter(self._titles)))
            important = notification is not None and notification.important
            self._titles[notification_id] = card_title(notification.card) if important and notification else None
        return self._titles[notification_id]

    def body(self, title: str) -> dict[str, Any]:
        return {
            "topic": {
                "source": "text",
                "value": title[:100],
                "webUrl": f"https://teams.microsoft.com/l/chat/0/0?users=28:{self._app_id}",
            },
            "activityType": ACTIVITY_TYPE,
            "previewText": {"content": title[:PREVIEW_LIMIT]},
            "templateParameters": [{"name": "title", "value": title[:100]}],
        }

    async def notify(self, delivery: Delivery) -> None:
        """The feed notification of a sent chat copy, when its notification is important and it went to a person."""
        user = delivery.recipient.get("userId") or delivery.recipient.get("upn")
        if not user:
            return  # channels and conversations have no one person's feed
        title = await self._title_if_important(delivery.notification_id)
        if title is None:
            return
        caller = self._graph.app(self._credential, delivery.tenant_id)
        try:
            await caller.post(
                f"/users/{quote(str(user))}/teamwork/sendActivityNotification",
                self.body(title),
                permission=PERMISSION,
            )
            outcome = "sent"
        except PermissionDenied:
            outcome = f"failed:permission_missing:{PERMISSION}"
        except NotFound:
            outcome = "failed:user_not_found"
        except GraphError as exc:
            outcome = f"failed:{exc.status or 'unreachable'}:{exc.code}"[:120]
        except CredentialError:
            outcome = "failed:no_token"
        if outcome != "sent":
            logger.warning("activity feed notification not sent: %s", outcome)
        await self._ledger.mark_feed(delivery, outcome, self._clock())
