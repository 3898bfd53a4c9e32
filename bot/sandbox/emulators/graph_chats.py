"""Chat messages for the Graph emulator (app-only, resource-specific consent), plugged in with :func:`install_chats`
before ``start()``.

``GET /chats/{chat-id}/messages`` lists, newest first (``$top`` at most 50, ``@odata.nextLink``), what the connector
emulator actually received in that conversation: each activity as the chatMessage Graph returns for a bot's message
(its Adaptive Card attachments with ``content`` as the card JSON string, the id the connector answered with). Reads
need the ``ChatMessage.Read.Chat`` role (the resource-specific consent of a chat where the app is installed); an
unknown chat answers 404.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.sandbox.emulators.connector import ConnectorEmulator, Recorded
from bot.sandbox.emulators.graph import GraphEmulator, graph_error

ROLE = "ChatMessage.Read.Chat"
LIMIT = 50


def chat_message(recorded: Recorded, created: datetime) -> dict[str, Any]:
    activity = recorded.activity
    attachments = [
        {
            "id": f"{recorded.id}-{n}",
            "contentType": a.get("contentType"),
            "contentUrl": a.get("contentUrl"),
            "content": json.dumps(a["content"]) if isinstance(a.get("content"), dict) else a.get("content"),
            "name": a.get("name"),
            "thumbnailUrl": None,
        }
        for n, a in enumerate(activity.get("attachments") or [])
    ]
    tags = "".join(f'<attachment id="{a["id"]}"></attachment>' for a in attachments)
    return {
        "id": recorded.id,
        "replyToId": None,
        "messageType": "message",
        "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "deletedDateTime": None,
        "chatId": recorded.conversation_id,
        "from": {"application": {"id": "bot", "displayName": "Courier", "applicationIdentityType": "bot"}},
        "body": {"contentType": "html", "content": (activity.get("text") or "") + tags},
        "attachments": attachments,
        "mentions": [],
    }


def install_chats(graph: GraphEmulator, connector: ConnectorEmulator) -> None:
    """Serve the chats the connector emulator has seen (linked, so Graph shows what really arrived)."""

    async def list_messages(request: web.Request, claims: dict[str, Any]) -> web.Response:
        chat = request.match_info["chat"]
        sent = connector.chat(chat)
        if sent is None:
            return graph_error(404, "NotFound", "Chat not found.")
        now = datetime.now(UTC)
        newest = [chat_message(r, now) for r in reversed(sent)]
        top = min(int(request.query.get("$top", LIMIT)), LIMIT)
        skip = int(request.query.get("$skiptoken", "0"))
        body: dict[str, Any] = {"value": newest[skip : skip + top]}
        if skip + top < len(newest):
            query = {"$top": str(top), "$skiptoken": str(skip + top)}
            body["@odata.nextLink"] = f"{request.scheme}://{request.host}{request.path}?{urlencode(query)}"
        return web.json_response(body)

    graph.route("GET", "/v1.0/chats/{chat}/messages", list_messages, role=ROLE)
