"""The fuzz suite's app: Courier whole (every feature, sign-in on, an API key) served from a thread of its own for a
test module, so Hypothesis drives it synchronously, thousands of requests against one instance.

Requests carry real credentials (a channel token minted by the Bot Framework emulator, the API key), so the fuzzed
input reaches past authentication. :meth:`FuzzApp.rows` counts stored rows (one read-only query) to show that a
refused request stored nothing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.emulators.fixtures import BOT_FRAMEWORK_RESOURCE
from tests.support.edge import EdgeBot, edge_app, stored_rows

T = TypeVar("T")
TIMEOUT = 30.0  # seconds one request may take before the run fails (a hang, not a timing assertion)


class FuzzApp:
    def __init__(self, loop: asyncio.AbstractEventLoop, bot: EdgeBot) -> None:
        self._loop = loop
        self.bot = bot
        self._token = bot.token()  # one channel token for the module (valid an hour)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(TIMEOUT)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> int:
        """POST ``body`` (bytes as they are, anything else as JSON); the status."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self._run(self.bot.post_raw(path, data, headers)).status

    def api(self, path: str, body: Any) -> int:
        return self.post(path, body, self.bot.api_headers())

    def channel_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def activity(self, data: Any) -> int:
        return self.post("/api/messages", data, self.channel_headers())

    def get(self, path: str, headers: dict[str, str] | None = None) -> int:
        async def get() -> int:
            async with self.bot.session.get(f"{self.bot.url}{path}", headers=headers, allow_redirects=False) as r:
                await r.read()
                return r.status

        return self._run(get())

    def rows(self, tables: frozenset[str]) -> dict[str, int]:
        return self._run(stored_rows(self.bot.db, tables))

    @property
    def service_url(self) -> str:
        return self.bot.connector.url


@contextmanager
def fuzz_app(
    tmp_path: Path, database_url: str, entra: EntraEmulator, bf: BotFrameworkChannelEmulator, test_ca: TestCA
) -> Iterator[FuzzApp]:
    """The app on its own event loop in a thread, with a connector emulator of its own, for one test module."""
    connector = ConnectorEmulator(
        token_verifier=lambda token: entra.key.verify(token, audience=BOT_FRAMEWORK_RESOURCE),
        ssl_context=test_ca.server_ssl_context(),
    )
    connector.start()
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[FuzzApp] = loop.create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with edge_app(tmp_path, database_url, (bf, entra, connector, test_ca)) as bot:
            ready.set_result(FuzzApp(loop, bot))
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    app = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(ready), TIMEOUT), loop).result(TIMEOUT)
    try:
        yield app
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(TIMEOUT)
        loop.close()
        connector.stop()
