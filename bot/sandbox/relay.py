"""A Bot Connector relay in front of the Agents Playground's mock connector, for local mode.

The Playground shows only its current user's conversations: a chat Courier starts with a colleague (a reminder for
``@Megan``, an announcement to her) is accepted by its connector but shown nowhere. The relay forwards every request
unchanged to the Playground's connector and answers with its answer; for each message it forwards into a chat it saw
being created for someone, it reports one line (whom it reached and what it said), so a person trying Courier
locally sees it arrive.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.emulators.server import ThreadedServer

logger = logging.getLogger(__name__)
_FORWARDED = ("Authorization", "Content-Type", "Accept")


@dataclass
class Delivery:
    person: str
    conversation_id: str
    text: str


@dataclass
class ConnectorRelay:
    target: str  # the Playground's connector, e.g. http://127.0.0.1:56150/_connector
    names: Mapping[str, str]  # person id -> display name
    on_delivery: Callable[[Delivery], None] | None = None
    host: str = "127.0.0.1"
    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    _chats: dict[str, str] = field(default_factory=dict)  # conversation id -> the person it was created for
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._server = ThreadedServer(app, host=self.host, port=self.port)
        self.url = ""

    def start(self) -> str:
        self.url = self._server.start()
        return self.url

    def stop(self) -> None:
        self._server.stop()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED}
        url = f"{self.target.rstrip('/')}/{request.match_info['path']}"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.request(request.method, url, params=request.query, data=body, headers=headers) as answer,
        ):
            payload = await answer.read()
            status, content_type = answer.status, answer.headers.get("Content-Type", "application/json")
        if request.method == "POST" and status < 300:
            self._observe(request.match_info["path"], body, payload)
        return web.Response(status=status, body=payload, content_type=content_type.split(";")[0])

    def _observe(self, path: str, sent: bytes, answer: bytes) -> None:
        try:
            request: Any = json.loads(sent or b"{}")
            response: Any = json.loads(answer or b"{}")
        except ValueError:
            return
        parts = path.strip("/").split("/")
        if parts == ["v3", "conversations"] and not request.get("isGroup"):
            members = request.get("members") or [{}]
            with self._lock:
                self._chats[str(response.get("id"))] = str(members[0].get("id", ""))
        elif len(parts) >= 4 and parts[:2] == ["v3", "conversations"] and parts[3] == "activities":
            person = self._chats.get(parts[2])
            if person is not None:
                delivery = Delivery(self.names.get(person, person), parts[2], summary(request))
                with self._lock:
                    self.deliveries.append(delivery)
                if self.on_delivery is not None:
                    self.on_delivery(delivery)


def summary(activity: Mapping[str, Any]) -> str:
    """The activity's text, else its card's first texts."""
    if activity.get("text"):
        return str(activity["text"])[:120]
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock" and node.get("text"):
                texts.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for attachment in activity.get("attachments") or []:
        walk(attachment.get("content"))
    return " | ".join(t for t in texts if len(t) > 1)[:120]
