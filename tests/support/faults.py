"""Rigs for the fault suite: real Courier processes, and a TCP proxy that makes PostgreSQL look restarted.

:class:`PostgresProxy` sits between Courier and the machine's shared PostgreSQL (which must never be restarted: other
work uses it). :meth:`PostgresProxy.outage` drops every open connection and refuses new ones for a while, which is
exactly what a database restart looks like to a client.

:class:`Courier` is ``python app.py`` (anonymous, with an API key) over a given database and connector emulator,
started, killed with SIGKILL and started again as the tests please.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.platform.storage.base import Store
from bot.sandbox.emulators.connector import ConnectorEmulator, Recorded
from tests.e2e.playground import E2E_API_KEY, BotProcess, start_bot
from tests.support.turns import activity

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Fault drill"}]}


class PostgresProxy:
    """A byte-for-byte TCP proxy on 127.0.0.1 in its own thread and event loop."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.dropped = 0
        self.back_at: float | None = None  # time.monotonic() when the last outage ended

    def start(self) -> int:
        self._thread.start()
        self._call(self._listen())
        return self.port

    def stop(self) -> None:
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def outage(self, seconds: float) -> None:
        """Drop every connection and refuse new ones now; accept again after ``seconds`` (returns at once)."""
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(lambda: self._loop.call_later(seconds, self._reopen))

    def _reopen(self) -> None:
        self.back_at = time.monotonic()
        self._loop.create_task(self._listen())

    def _call(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            self.dropped += 1
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for end in (writer, up_writer):
            self._writers.discard(end)
            end.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


@dataclass
class Courier:
    """``python app.py`` over ``database_url``, sending to ``connector``; one process at a time."""

    workdir: Path
    database_url: str
    connector: ConnectorEmulator
    extra: dict[str, str] = field(default_factory=dict)
    bot: BotProcess | None = None
    starts: list[float] = field(default_factory=list)  # monotonic times each process answered /healthz

    def _env(self, _port: int) -> dict[str, str]:
        return {
            "COURIER_DATABASE_URL": self.database_url,
            "COURIER_BOT_SERVICE_URL": self.connector.url,
            "COURIER_SHUTDOWN_GRACE_SECONDS": "5",
            **self.extra,
        }

    async def start(self) -> BotProcess:
        self.bot = await start_bot(self.workdir, extra_env=self._env)
        self.starts.append(time.monotonic())
        return self.bot

    @property
    def running(self) -> BotProcess:
        assert self.bot is not None, "Courier is not started"
        return self.bot

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, leases and claims left exactly as they were."""
        self.running.process.send_signal(signal.SIGKILL)
        self.running.process.wait(10)

    def stop(self) -> None:
        if self.bot is not None:
            self.bot.stop()

    async def notify(self, recipients: int, key: str = "drill") -> str:
        """``POST /api/notifications`` to ``recipients`` users; returns the notification id."""
        body = {
            "idempotencyKey": key,
            "tenantId": TENANT,
            "recipients": [{"userId": user(n)} for n in range(recipients)],
            "card": CARD,
        }
        headers = {"Authorization": f"Bearer {E2E_API_KEY}"}
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"{self.running.url}/api/notifications", json=body, headers=headers)
            async with response:
                assert response.status == 202, await response.text()
                return str((await response.json())["id"])

    async def say(self, text: str) -> None:
        """A personal-chat message from a user, as Teams would post it (anonymous mode: no token)."""
        message = activity(text=text, serviceUrl=self.connector.url)
        url = f"{self.running.url}/api/messages"
        async with aiohttp.ClientSession() as session, session.post(url, json=message) as response:
            assert response.status in {200, 201, 202}, await response.text()

    async def status(self, notification_id: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {E2E_API_KEY}"}
        async with aiohttp.ClientSession() as session:
            url = f"{self.running.url}/api/notifications/{notification_id}"
            async with session.get(url, headers=headers) as response:
                assert response.status == 200, await response.text()
                result: dict[str, Any] = await response.json()
                return result

    async def ready(self) -> tuple[int, dict[str, Any]]:
        return await self._get("/readyz")

    async def alive(self) -> tuple[int, dict[str, Any]]:
        return await self._get("/healthz")

    async def _get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.running.url}{path}") as response:
            body: dict[str, Any] = await response.json()
            return response.status, body


def user(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Tally:
    """What the connector received: each conversation's count of sends, and the duplicates."""

    arrivals: Counter[str]
    duplicates: int

    @classmethod
    def of(cls, connector: ConnectorEmulator, recipients: int) -> Tally:
        """Sends to the 1:1 chats Courier created with the first ``recipients`` users (others left out, such as
        a reminder's)."""
        users = {user(n) for n in range(recipients)}
        notified = {cid for cid, body in connector.created.items() if body["members"][0]["id"] in users}
        recorded = connector.wait_for(lambda _: True)
        sends = [r for r in recorded if r.kind == "send" and r.conversation_id in notified]
        arrivals = Counter(r.conversation_id for r in sends)
        return cls(arrivals, sum(n - 1 for n in arrivals.values()))


def arrived(count: int) -> Callable[[list[Recorded]], bool]:
    """A predicate for :meth:`ConnectorEmulator.wait_for`: ``count`` distinct conversations received a send."""
    return lambda recorded: len({r.conversation_id for r in recorded if r.kind == "send"}) >= count


OPEN_STATES = ("queued", "claimed", "sending")


async def settled(store: Store, *, within: float = 60.0) -> Counter[str]:
    """Wait until no delivery is queued, claimed or sending (polled: the ledger has no event to await); returns
    the deliveries by state (``maybe_delivered`` by reason too)."""
    async with asyncio.timeout(within):
        while True:
            rows = await store.db.fetch("SELECT state, COALESCE(reason, '') AS reason FROM deliveries")
            states = Counter(str(r["state"]) for r in rows)
            if not any(states[s] for s in OPEN_STATES):
                states.update(f"maybe:{r['reason']}" for r in rows if r["state"] == "maybe_delivered")
                return states
            await asyncio.sleep(0.2)
