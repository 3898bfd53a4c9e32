"""Drive Courier through the Microsoft 365 Agents Playground: the real bot process, the real client, over HTTP
and the Playground's WebSocket (its replies stream)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from scripts.playground import Playground
from tests.support.cards import card_texts

ROOT = Path(__file__).resolve().parents[2]
Event = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


async def start_bot(workdir: Path) -> BotProcess:
    port = free_port()
    log_path = workdir / "bot.log"
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "COURIER_DATABASE_URL": f"sqlite:///{workdir / 'courier.db'}",
        "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1",
        "COURIER_LOG_FORMAT": "text",
    }
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppTenantId"):
        env.pop(name, None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    bot = BotProcess(process, port, log_path)
    async with aiohttp.ClientSession() as session:
        for _ in range(150):
            if process.poll() is not None:
                raise RuntimeError(f"the bot exited with {process.returncode}:\n{bot.log()}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return bot
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    bot.stop()
    raise RuntimeError(f"the bot did not become healthy:\n{bot.log()}")


@dataclass
class PlaygroundClient:
    playground: Playground
    session: aiohttp.ClientSession
    config: dict[str, Any]
    websocket: aiohttp.ClientWebSocketResponse
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    seen: list[Event] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.playground.url

    @property
    def user_id(self) -> str:
        return str(self.config["currentUser"]["id"])

    @property
    def bot(self) -> dict[str, str]:
        return dict(self.config["bot"])

    @property
    def personal_chat(self) -> str:
        return str(self.config["personalChat"]["id"])

    @property
    def group_chat(self) -> str:
        return str(self.config["groupChats"][0]["id"])

    @property
    def general_channel(self) -> str:
        return str(self.config["teams"][0]["channels"][0]["id"])

    async def pump(self) -> None:
        async for message in self.websocket:
            if message.type == aiohttp.WSMsgType.TEXT:
                await self.events.put(message.json())

    async def install(self, conversation_id: str) -> None:
        async with self.session.post(f"{self.url}/_debug/conversation/{conversation_id}/installation", json={}) as r:
            assert r.status == 200, await r.text()

    async def send(self, conversation_id: str, text: str, *, mention_bot: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text, "textFormat": "plain", "from": {"id": self.user_id}}
        if mention_bot:
            mention = f"<at>{self.bot['name']}</at>"
            body["text"] = f"{mention} {text}"
            body["mentions"] = [{"mentioned": {"id": self.bot["id"]}, "text": mention}]
        async with self.session.post(
            f"{self.url}/_conversation/v1/conversations/{conversation_id}/messages", json=body
        ) as r:
            assert r.status == 200, await r.text()
            result: dict[str, Any] = await r.json()
            return result

    async def invoke(self, body: dict[str, Any]) -> tuple[int, Any]:
        body = {"from": {"id": self.user_id}, **body}
        async with self.session.post(f"{self.url}/_conversation/v1/invoke", json=body) as r:
            text = await r.text()
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, text

    async def next_message(self, predicate: Callable[[Event], bool], within: float = 15.0) -> Event:
        """The next Playground event matching ``predicate`` (earlier non-matching events are kept in ``seen``)."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                self.seen.append(event)
                if predicate(event):
                    return event


def card_of(event: Event) -> dict[str, Any] | None:
    for attachment in event.get("message", {}).get("attachments") or []:
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
            content: dict[str, Any] = attachment["content"]
            return content
    return None


def texts(node: Any) -> str:
    return "\n".join(card_texts(node))


def card_titled(substring: str, conversation_id: str | None = None) -> Callable[[Event], bool]:
    def matches(event: Event) -> bool:
        if event.get("action") != "createMessage":
            return False
        if conversation_id is not None and conversation_id not in str(event.get("actionConversationId", "")):
            return False
        card = card_of(event)
        return card is not None and substring in texts(card)

    return matches
