"""Run an aiohttp application on 127.0.0.1 in a background thread with its own event loop.

botbuilder fetches OpenID metadata with blocking ``requests`` and sends through msrest in a thread pool, and MSAL
uses ``requests`` too: an emulator on the bot's own loop would deadlock, so every emulator gets its own thread.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from types import TracebackType

from aiohttp import web


class ThreadedServer:
    def __init__(
        self,
        app: web.Application,
        *,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        plain_port: int | None = None,
    ) -> None:
        """``plain_port``: the same app also over plain HTTP there (0: any free port), for pages a browser opens."""
        self.app = app
        self._ssl = ssl_context
        self._host = host
        self._port = port
        self._plain_port = plain_port
        self.plain_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.url = ""

    def start(self) -> str:
        self._thread = threading.Thread(target=self._run, name=f"emulator-{id(self):x}", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"emulator failed to start: {self._error}") from self._error
        if not self.url:
            raise RuntimeError("emulator did not start within 10 s")
        return self.url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl)
        await site.start()
        port = int(self._runner.addresses[0][1])
        scheme = "https" if self._ssl else "http"
        if self._plain_port is not None:
            plain = web.TCPSite(self._runner, self._host, self._plain_port)
            await plain.start()
            self.plain_url = f"http://{self._host}:{int(self._runner.addresses[-1][1])}"
        self.url = f"{scheme}://{self._host}:{port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
