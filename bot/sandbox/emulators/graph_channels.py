"""Channel messages for the Graph emulator (app-only, resource-specific consent), plugged in with
:func:`install_channels` before ``start()``.

``GET /teams/{team}/channels/{channel}/messages`` pages root messages (``$top`` at most 50, ``@odata.nextLink``)
with ``$expand=replies`` support (up to 1,000 replies inline, as Graph does); ``GET .../messages/{id}/replies``
pages replies. Each channel answers at most ``per_channel_rps`` requests per second (4, Graph's documented limit
for these APIs); beyond that, 429 with Retry-After. Reads need the ``ChannelMessage.Read.Group`` role.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.sandbox.emulators.graph import GraphEmulator, graph_error

ROLE = "ChannelMessage.Read.Group"


@dataclass
class ChannelsState:
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> roots (with "replies")
    per_channel_rps: float = 4.0
    inline_replies: int = 1000  # replies returned with $expand=replies before a thread needs its replies link
    throttled: int = 0
    requests: int = 0
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def add_thread(self, channel: str, root: dict[str, Any], replies: list[dict[str, Any]]) -> None:
        self.messages.setdefault(channel, []).append({**root, "_replies": replies})


def message(  # noqa: PLR0917 - the tests read best as message(id, user, name, when, text)
    mid: str, user: str, name: str, at: datetime, text: str, reply_to: str | None = None
) -> dict[str, Any]:
    return {
        "id": mid,
        "replyToId": reply_to,
        "messageType": "message",
        "createdDateTime": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "deletedDateTime": None,
        "from": {"user": {"id": user, "displayName": name, "userIdentityType": "aadUser"}},
        "body": {"contentType": "html", "content": f"<p>{text}</p>"},
        "mentions": [],
    }


def install_channels(graph: GraphEmulator) -> ChannelsState:
    state = ChannelsState()

    def admit(channel: str) -> web.Response | None:
        state.requests += 1
        now = time.monotonic()
        hits = state._hits.setdefault(channel, deque())
        while hits and now - hits[0] >= 1.0:
            hits.popleft()
        if len(hits) >= state.per_channel_rps:
            state.throttled += 1
            return graph_error(429, "TooManyRequests", "Too many requests for this channel.", 1)
        hits.append(now)
        return None

    def page(request: web.Request, items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
        top = min(int(request.query.get("$top", limit)), limit)
        skip = int(request.query.get("$skiptoken", "0"))
        body: dict[str, Any] = {"value": items[skip : skip + top]}
        if skip + top < len(items):
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(skip + top)
            body["@odata.nextLink"] = f"{request.scheme}://{request.host}{request.path}?{urlencode(query)}"
        return body

    def public(m: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if not k.startswith("_")}

    async def list_messages(request: web.Request, claims: dict[str, Any]) -> web.Response:
        channel = request.match_info["channel"]
        problem = admit(channel)
        if problem is not None:
            return problem
        roots = state.messages.get(channel)
        if roots is None:
            return graph_error(404, "NotFound", "Channel not found.")
        body = page(request, roots, 50)
        expand = "replies" in request.query.get("$expand", "")
        out = []
        for root in body["value"]:
            item = public(root)
            if expand:
                replies = root["_replies"]
                item["replies"] = [public(r) for r in replies[: state.inline_replies]]
                if len(replies) > state.inline_replies:
                    item["replies@odata.nextLink"] = (
                        f"{request.scheme}://{request.host}{request.path}/{root['id']}/replies"
                    )
            out.append(item)
        body["value"] = out
        return web.json_response(body)

    async def list_replies(request: web.Request, claims: dict[str, Any]) -> web.Response:
        channel = request.match_info["channel"]
        problem = admit(channel)
        if problem is not None:
            return problem
        root = next((m for m in state.messages.get(channel, []) if m["id"] == request.match_info["id"]), None)
        if root is None:
            return graph_error(404, "NotFound", "Message not found.")
        body = page(request, [public(r) for r in root["_replies"]], 50)
        return web.json_response(body)

    graph.route("GET", "/v1.0/teams/{team}/channels/{channel}/messages", list_messages, role=ROLE)
    graph.route("GET", "/v1.0/teams/{team}/channels/{channel}/messages/{id}/replies", list_replies, role=ROLE)
    return state
