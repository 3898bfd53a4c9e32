"""One bot process and one Agents Playground for the e2e module; each test uses its own conversation or action."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from scripts.playground import BINARY, start_playground
from tests.e2e.harness import PlaygroundClient, free_port, start_bot


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def playground() -> AsyncIterator[PlaygroundClient]:
    if not BINARY.exists():
        pytest.skip("node_modules is missing (npm ci): the Agents Playground end-to-end tests did NOT run")
    workdir = Path(tempfile.mkdtemp(prefix="courier-e2e-"))
    bot = await start_bot(workdir)
    pg = await asyncio.to_thread(start_playground, f"http://127.0.0.1:{bot.port}/api/messages", port=free_port())
    session = aiohttp.ClientSession()
    pump: asyncio.Task[None] | None = None
    try:
        async with session.get(f"{pg.url}/_internal/v1/config") as response:
            config = (await response.json())["config"]
        # Connect the reply stream before anything is sent (messages sent while nobody listens are buffered).
        websocket = await session.ws_connect(f"{pg.url}/_ws_conversation/v1/conversations/stream")
        client = PlaygroundClient(pg, session, config, websocket)
        pump = asyncio.create_task(client.pump())
        yield client
    except BaseException:
        print(bot.log())
        raise
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        await session.close()
        pg.stop()
        bot.stop()
