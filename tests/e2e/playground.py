"""Drive Courier through the Microsoft 365 Agents Playground: the real bot process and the real Teams client
emulator, over the Playground's HTTP API and its WebSocket reply stream.

:func:`start_harness` starts both and returns a :class:`PlaygroundHarness`; the e2e ``conftest.py`` wraps it in a
fixture. Request shapes are documented in ``tests/e2e/README.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from scripts.playground import Playground, start_playground
from tests.support.cards import card_texts

ROOT = Path(__file__).resolve().parents[2]
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
Event = dict[str, Any]
Predicate = Callable[[Event], bool]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the bot ------------------------------------------------------------------------------------------------


@dataclass
class BotProcess:
    """``python app.py`` in anonymous mode over a temporary SQLite file; its log goes to ``log_path``.

    ``process`` is a plain :class:`subprocess.Popen`, so tests can signal it and wait for it with a timeout."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/messages"

    def log(self, lines: int = 200) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(no bot log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def half_closed_connections(self, remote_port: int) -> int:
        """How many of the bot's TCP connections to ``remote_port`` the other side has closed while the bot still
        holds them open (``CLOSE-WAIT``), read from ``/proc`` (Linux)."""
        fds = Path(f"/proc/{self.process.pid}/fd")
        inodes = set()
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table, encoding="ascii") as rows:
                for row in list(rows)[1:]:
                    fields = row.split()
                    remote, state, inode = fields[2], fields[3], fields[9]
                    if state == "08" and int(remote.rsplit(":", 1)[1], 16) == remote_port and inode in inodes:
                        count += 1
        return count

    def stop(self, grace: float = 15.0) -> None:
        """Terminate, wait, and kill if it has not exited within ``grace`` seconds (blocking)."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


E2E_API_KEY = "e2e-notifications-key-0123456789"


def bot_environment(port: int, database: Path) -> dict[str, str]:
    """The inherited environment without any Courier or Bot Framework setting, plus local, anonymous ones."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("COURIER_", "Microsoft", "MICROSOFT_APP")) and name not in {"PORT", "HOST"}
    }
    env.update(
        {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "COURIER_DATABASE_URL": f"sqlite:///{database}",
            "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1",  # the Playground sends no tokens
            "COURIER_LOG_FORMAT": "text",
            "COURIER_LOG_LEVEL": "INFO",
            "COURIER_API_KEYS": E2E_API_KEY,  # a test-only key for the notifications API
        }
    )
    return env


async def start_bot(
    workdir: Path,
    *,
    python: str | None = None,
    ready_within: float = 30.0,
    extra_env: Callable[[int], dict[str, str]] | None = None,
    port: int | None = None,
) -> BotProcess:
    """Start Courier on ``port`` (default a free one) with ``workdir`` as its folder (no ``.env`` there) and wait
    for ``/healthz``.

    ``extra_env(port)`` adds or overrides settings (e.g. an app id against local Entra and Graph emulators)."""
    port = port or free_port()
    env = bot_environment(port, workdir / "courier.db")
    if extra_env is not None:
        env.update(extra_env(port))
    log_path = workdir / "bot.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [python or sys.executable, str(ROOT / "app.py")],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    bot = BotProcess(process, port, log_path)
    try:
        async with asyncio.timeout(ready_within), aiohttp.ClientSession() as session:
            while process.poll() is None:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            return bot
                await asyncio.sleep(0.1)  # polling a child's port: there is no event to await
        raise RuntimeError(f"Courier exited with status {process.returncode}:\n{bot.log()}")
    except TimeoutError:
        await asyncio.to_thread(bot.stop)
        raise RuntimeError(f"Courier did not answer /healthz within {ready_within} s:\n{bot.log()}") from None
    except BaseException:
        await asyncio.to_thread(bot.stop)
        raise


# -- what the user sees -------------------------------------------------------------------------------------


def card_of(event_or_message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The first Adaptive Card of a WebSocket event (or of its ``message``)."""
    message = event_or_message.get("message", event_or_message)
    for attachment in message.get("attachments") or []:
        if attachment.get("contentType") == ADAPTIVE_CARD:
            content: dict[str, Any] = attachment["content"]
            return content
    return None


def visible_text(event: Event) -> str:
    """The message text and the card's texts of a WebSocket event, one per line."""
    message = event.get("message") or {}
    parts = [message["text"]] if isinstance(message.get("text"), str) else []
    card = card_of(event)
    if card is not None:
        parts.extend(card_texts(card))
    return "\n".join(parts)


def card_actions(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The card's ``Action.Execute``/``Action.Submit`` actions (top-level and in action sets)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") in {"Action.Execute", "Action.Submit"}:
                found.append(node)
            for value in node.values():
                walk(value)

    walk(card)
    return found


def dialog_submission(card: Mapping[str, Any], **typed: str) -> dict[str, Any]:
    """What Teams sends as ``value.data`` of ``composeExtension/submitAction`` when the user presses a dialog's
    one ``Action.Submit``: the action's data with every input's value (its default, or what ``typed`` says)."""
    (button,) = [action for action in card_actions(card) if action.get("type") == "Action.Submit"]
    inputs = {str(i["id"]): str(i.get("value", "")) for i in _inputs(card)}
    return {**(button.get("data") or {}), **inputs, **typed}


def _inputs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _inputs(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if str(node.get("type", "")).startswith("Input.") and "id" in node else []
    return own + [found for value in node.values() for found in _inputs(value)]


def reply(
    conversation: str | None = None, *, containing: str | None = None, action: str = "createMessage"
) -> Predicate:
    """Matches a bot message event (``createMessage`` by default) in ``conversation`` whose visible text contains
    ``containing``. For channel posts, pass the thread id (:attr:`Sent.conversation_id`)."""

    def matches(event: Event) -> bool:
        if event.get("action") != action:
            return False
        if conversation is not None and event.get("actionConversationId") != conversation:
            return False
        return containing is None or containing in visible_text(event)

    return matches


def describe(event: Event) -> str:
    message = event.get("message") or {}
    card = card_of(event)
    title = " | ".join(card_texts(card)[:3]) if card else ""
    return f"{event.get('action')} in {event.get('actionConversationId')}: text={message.get('text')!r} card={title!r}"


# -- the client -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A message the user posted. Replies land in ``conversation_id``: the chat, or for a channel post the new
    thread (``<channel>;messageid=<id>``)."""

    message_id: str
    conversation_id: str


@dataclass(frozen=True)
class InvokeResult:
    """The Playground's answer to an invoke: 200 with the bot's body (``{type, value}`` for card actions,
    ``{task, composeExtension}`` for messaging extensions), or 502 ``UserBotError`` when the bot failed or
    answered with an error status, or 400 for a request the Playground rejects."""

    status: int
    body: Any


@dataclass
class PlaygroundHarness:
    bot: BotProcess
    playground: Playground
    session: aiohttp.ClientSession
    websocket: aiohttp.ClientWebSocketResponse
    config: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _taken: set[int] = field(default_factory=set)
    _mark: int = 0
    _pump: asyncio.Task[None] | None = None
    _closed: bool = False

    # -- the Playground's fixed world (ids change on every start) --
    @property
    def url(self) -> str:
        return self.playground.url

    @property
    def user_id(self) -> str:
        return str(self.config["currentUser"]["id"])

    @property
    def bot_id(self) -> str:
        return str(self.config["bot"]["id"])

    @property
    def bot_name(self) -> str:
        return str(self.config["bot"]["name"])

    @property
    def personal_chat(self) -> str:
        return str(self.config["personalChat"]["id"])

    @property
    def group_chat(self) -> str:
        return str(self.config["groupChats"][0]["id"])

    @property
    def team_id(self) -> str:
        return str(self.config["teams"][0]["id"])

    def channel(self, name: str = "General") -> str:
        for channel in self.config["teams"][0]["channels"]:
            if channel["name"] == name:
                return str(channel["id"])
        raise KeyError(f"the Playground's team has no channel named {name!r}")

    # -- the reply stream --
    async def _read_stream(self) -> None:
        try:
            async for message in self.websocket:
                if message.type == aiohttp.WSMsgType.TEXT:
                    async with self._arrived:
                        self.events.append(message.json())
                        self._arrived.notify_all()
        finally:
            async with self._arrived:
                self._closed = True
                self._arrived.notify_all()

    def _begin_action(self) -> None:
        """Replies to what follows count from here (so an earlier test's leftovers never match)."""
        self._mark = len(self.events)

    async def next_message(self, predicate: Predicate, timeout: float = 10.0) -> Event:  # noqa: ASYNC109 - the API
        """Await the next WebSocket event matching ``predicate`` that arrived since the last action (install,
        send, invoke, submit, custom activity) and was not returned before."""
        start = self._mark
        try:
            async with asyncio.timeout(timeout), self._arrived:
                index = start
                while True:
                    while index < len(self.events):
                        if index not in self._taken and predicate(self.events[index]):
                            self._taken.add(index)
                            return self.events[index]
                        index += 1
                    if self._closed:
                        raise AssertionError("the Playground's reply stream closed")
                    await self._arrived.wait()
        except TimeoutError:
            seen = "\n".join(f"  {describe(event)}" for event in self.events[start:]) or "  (nothing)"
            raise AssertionError(
                f"no matching Playground event within {timeout} s; events since then:\n{seen}"
            ) from None

    def latest_card_with(self, conversation: str, verb: str) -> tuple[str, dict[str, Any]]:
        """The newest bot message in ``conversation`` whose card has an action with ``verb``, and that action."""
        for event in reversed(self.events):
            if event.get("actionConversationId") != conversation:
                continue
            card = card_of(event)
            for action in card_actions(card) if card else []:
                if action.get("verb") == verb or (action.get("data") or {}).get("verb") == verb:
                    return str(event["message"]["messageId"]), action
        raise LookupError(f"no card with a {verb!r} action arrived in {conversation}")

    # -- what the user does --
    async def _post(self, path: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        async with self.session.post(f"{self.url}{path}", json=body) as response:
            text = await response.text()
            try:
                return response.status, await response.json(content_type=None) if text else None
            except ValueError:
                return response.status, text

    async def install(self, conversation: str) -> None:
        """Add Courier to a chat or team: ``installationUpdate`` (add) then ``conversationUpdate``
        (membersAdded)."""
        self._begin_action()
        status, body = await self._post(f"/_debug/conversation/{conversation}/installation", {})
        assert status == 200, f"installation in {conversation}: {status} {body}"

    async def post_message(self, conversation: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """Post a message body as it is (e.g. attachments and no text); the Playground's status and answer."""
        self._begin_action()
        return await self._post(f"/_conversation/v1/conversations/{conversation}/messages", body)

    async def send(
        self, conversation: str, text: str, *, mention_bot: bool = False, mention: Sequence[str] = ()
    ) -> Sent:
        """Post ``text`` as the current user; with ``mention_bot`` it is prefixed by an @mention of the bot
        (needed in channels and group chats, where the Playground delivers only messages that mention it).
        ``mention``: names of the Playground's users whose ``@Name`` in ``text`` becomes a mention of them, as the
        Playground's client does when a person is picked after ``@``."""
        body: dict[str, Any] = {"text": text, "textFormat": "plain", "from": {"id": self.user_id}}
        mentions: list[dict[str, Any]] = []
        if mention_bot:
            tag = f"<at>{self.bot_name}</at>"
            body["text"] = f"{tag} {text}"
            mentions.append({"mentioned": {"id": self.bot_id}, "text": tag})
        for name in mention:
            person = next(u for u in self.config["users"] if u["name"] == name)
            body["text"] = body["text"].replace(f"@{name}", f"<at>{name}</at>")
            mentions.append({"mentioned": {"id": person["id"]}, "text": f"<at>{name}</at>"})
        if mentions:
            body["mentions"] = mentions
        self._begin_action()
        status, answer = await self._post(f"/_conversation/v1/conversations/{conversation}/messages", body)
        assert status == 200, f"message to {conversation}: {status} {answer}"
        return Sent(str(answer["messageId"]), str(answer.get("postConversationId") or conversation))

    async def invoke_card_action(
        self,
        conversation: str,
        verb: str,
        data: Mapping[str, Any] | None = None,
        *,
        activity_id: str | None = None,
    ) -> InvokeResult:
        """Click an ``Action.Execute`` (``adaptiveCard/action`` invoke). Without ``activity_id`` it clicks the
        newest card in ``conversation`` that has an action with ``verb``, sending that action's data unless
        ``data`` is given."""
        action: dict[str, Any] = {"type": "Action.Execute", "verb": verb, "data": dict(data or {})}
        if activity_id is None:
            activity_id, on_card = self.latest_card_with(conversation, verb)
            action = {**on_card, "data": dict(data) if data is not None else on_card.get("data") or {}}
            action.pop("style", None)
        body = {
            "name": "adaptiveCard/action",
            "from": {"id": self.user_id},
            "conversation": {"id": conversation},
            "replyToId": activity_id,
            "value": {"action": action, "trigger": "manual"},
        }
        self._begin_action()
        return InvokeResult(*await self._post("/_conversation/v1/invoke", body))

    async def submit(self, conversation: str, activity_id: str, value: Mapping[str, Any]) -> None:
        """Click an ``Action.Submit``: a ``message`` activity with ``value`` (the action's data) and
        ``replyToId``. The Playground answers before the bot is called; await the bot's reply."""
        body = {
            "from": {"id": self.user_id},
            "conversation": {"id": conversation},
            "replyToId": activity_id,
            "value": dict(value),
        }
        self._begin_action()
        status, answer = await self._post("/_conversation/v1/submit", body)
        assert status == 200, f"submit in {conversation}: {status} {answer}"

    async def extension_invoke(
        self, name: str, value: Mapping[str, Any], *, conversation: str | None = None
    ) -> InvokeResult:
        """Any messaging extension invoke (``composeExtension/query``, ``fetchTask``, ``submitAction``, ...)."""
        body = {
            "name": name,
            "from": {"id": self.user_id},
            "conversation": {"id": conversation or self.personal_chat},
            "value": dict(value),
        }
        self._begin_action()
        return InvokeResult(*await self._post("/_conversation/v1/invoke", body))

    async def extension_query(
        self, command_id: str, query: str, *, conversation: str | None = None, parameter: str = "query"
    ) -> InvokeResult:
        """Type ``query`` into the search command ``command_id`` of the messaging extension."""
        value = {
            "commandId": command_id,
            "parameters": [{"name": parameter, "value": query}],
            "queryOptions": {"skip": 0, "count": 25},
        }
        return await self.extension_invoke("composeExtension/query", value, conversation=conversation)

    async def custom_activity(
        self, conversation: str, kind: str, changes: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send one of the Playground's templated activities (``install``, ``uninstall``, ``botAdded``,
        ``channelCreated``, ``teamRenamed``, ...) with ``changes`` merged over the template; returns it."""
        params = {"conversationId": conversation, "type": kind}
        async with self.session.get(f"{self.url}/_internal/v1/customActivities/template", params=params) as r:
            assert r.status == 200, f"custom activity template {kind}: {r.status} {await r.text()}"
            activity: dict[str, Any] = await r.json()
        _merge(activity, changes or {})
        self._begin_action()
        status, answer = await self._post("/_internal/v1/customActivities", activity)
        assert status == 200, f"custom activity {kind}: {status} {answer}"
        return activity

    # -- shutdown --
    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self.websocket.close()
        await self.session.close()
        await asyncio.to_thread(self.playground.stop)
        await asyncio.to_thread(self.bot.stop)

    def diagnostics(self) -> list[tuple[str, str]]:
        """Report sections for a failed test: the bot's log, the Playground's output, the last events."""
        events = "\n".join(describe(event) for event in self.events[-20:]) or "(none)"
        return [
            ("Courier log (last 200 lines)", self.bot.log()),
            ("Agents Playground output (last 50 lines)", self.playground.recent_output()),
            ("Agents Playground events (last 20)", events),
        ]


def _merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


async def start_harness(
    workdir: Path | None = None,
    *,
    extra_env: Callable[[int], dict[str, str]] | None = None,
    playground_port: int | None = None,
) -> PlaygroundHarness:
    """Start Courier, then the Playground pointed at it; read its config and connect the reply stream before
    anything is sent (messages sent while no socket is connected are buffered for the next one).

    ``playground_port``: where the Playground listens (default a free port), for a bot whose settings name its
    connector; a ``.m365agentsplayground.yml`` already in ``workdir / "playground"`` configures it."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="courier-e2e-"))
    bot = await start_bot(workdir, extra_env=extra_env)
    playground: Playground | None = None
    session: aiohttp.ClientSession | None = None
    try:
        playground = await asyncio.to_thread(
            start_playground, bot.endpoint, port=playground_port or free_port(), workdir=workdir / "playground"
        )
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        # The config call waits (up to 15 s) until the bot's endpoint answers; the bot is healthy already.
        async with session.get(f"{playground.url}/_internal/v1/config") as response:
            assert response.status == 200, f"Playground config: {response.status} {await response.text()}"
            config = (await response.json())["config"]
        websocket = await session.ws_connect(f"{playground.url}/_ws_conversation/v1/conversations/stream")
        harness = PlaygroundHarness(bot, playground, session, websocket, config)
        harness._pump = asyncio.create_task(harness._read_stream())
        return harness
    except BaseException:
        if session is not None:
            await session.close()
        if playground is not None:
            await asyncio.to_thread(playground.stop)
        await asyncio.to_thread(bot.stop)
        raise
