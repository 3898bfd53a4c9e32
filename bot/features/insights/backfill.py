"""Reading a channel's history from Microsoft Graph (app-only, resource-specific consent), resumably.

Root messages come a page at a time with their replies (``$expand=replies``; a thread with more is read through its
``replies`` link). Requests are paced to at most ``rps`` per channel (Graph allows 4 per second for these APIs); a
429 is waited out by the Graph client. After each page the cursor (``@odata.nextLink``) and the count are stored,
so a restart continues where it stopped, and overlapping messages are ignored by the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.features.insights.ingest import looks_like_question, plain_text
from bot.features.insights.store import ChannelMessage, InsightsStore
from bot.platform.graph.client import GraphClient
from bot.platform.identity.credentials import AppCredential
from bot.platform.storage.base import Store

logger = logging.getLogger(__name__)

NAMESPACE = "insights_backfill"  # channel id -> {"tenant", "team", "next", "count", "done"}
PERMISSION = "ChannelMessage.Read.Group"
Progress = Callable[[int, bool], Awaitable[None]]


class Pacer:
    """At most ``rps`` requests per second, evenly spaced with a 10% margin: Graph counts arrivals, and requests
    spaced exactly at the limit arrive bunched often enough to draw 429s."""

    def __init__(self, rps: float, *, margin: float = 0.1) -> None:
        self._interval = (1.0 + margin) / rps
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        if now < self._next:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self._interval


def _row(item: dict[str, Any], *, channel: str, tenant: str, team: str, thread: str) -> ChannelMessage | None:
    if item.get("deletedDateTime") or item.get("messageType", "message") != "message":
        return None
    user = ((item.get("from") or {}).get("user")) or {}
    if not user.get("id"):
        return None
    created = datetime.fromisoformat(str(item["createdDateTime"]).replace("Z", "+00:00")).astimezone(UTC)
    content = str((item.get("body") or {}).get("content") or "")
    text = plain_text(content)
    return ChannelMessage(
        channel_id=channel,
        message_id=str(item["id"]),
        tenant_id=tenant,
        team_id=team,
        thread_id=thread,
        is_reply=thread != str(item["id"]),
        author_id=str(user["id"]).lower(),
        author_name=user.get("displayName"),
        created_at=created,
        is_question=looks_like_question(content),
        mentions=len(item.get("mentions") or []),
        snippet=text[:140] or None,
        reactions=len(item.get("reactions") or []),
    )


class Backfill:
    def __init__(self, store: Store, graph: GraphClient, credential: AppCredential, *, rps: float = 4.0) -> None:
        self._store = store
        self._messages = InsightsStore(store)
        self._graph = graph
        self._credential = credential
        self._rps = rps

    async def run(self, tenant: str, team: str, channel: str, *, progress: Progress | None = None) -> int:
        """Read (the rest of) the channel's history; returns how many messages were stored in total."""
        state = await self._store.get_value(NAMESPACE, channel) or {}
        if state.get("done"):
            return int(state.get("count", 0))
        caller = self._graph.app(self._credential, tenant)
        pacer = Pacer(self._rps)
        count = int(state.get("count", 0))
        url: str | None = state.get("next") or (
            f"/teams/{quote(team)}/channels/{quote(channel)}/messages?$top=50&$expand=replies"
        )
        while url:
            await pacer.wait()
            page = await caller.get(url, permission=PERMISSION)
            rows: list[ChannelMessage] = []
            for item in page.get("value", []):
                root = _row(item, channel=channel, tenant=tenant, team=team, thread=str(item["id"]))
                if root is not None:
                    rows.append(root)
                replies = list(item.get("replies") or [])
                more = item.get("replies@odata.nextLink")
                if more:  # a long thread: read its replies separately
                    replies = []
                    while more:
                        await pacer.wait()
                        part = await caller.get(str(more), permission=PERMISSION)
                        replies.extend(part.get("value", []))
                        more = part.get("@odata.nextLink")
                for reply in replies:
                    row = _row(reply, channel=channel, tenant=tenant, team=team, thread=str(item["id"]))
                    if row is not None:
                        rows.append(row)
            if rows:
                await self._messages.ingest(rows)
            count += len(rows)
            url = page.get("@odata.nextLink")
            await self._store.put_value(
                NAMESPACE, channel, {"tenant": tenant, "team": team, "next": url, "count": count, "done": url is None}
            )
            if progress is not None:
                await progress(count, url is None)
        logger.info("backfilled a channel: %d messages", count)
        return count

    async def unfinished(self) -> list[tuple[str, str, str]]:
        """(tenant, team, channel) of backfills a restart interrupted."""
        return [
            (value["tenant"], value["team"], key)
            for key, value in await self._store.values(NAMESPACE)
            if not value.get("done")
        ]
