"""Background workers that live as long as the aiohttp app: started with it, told to stop, given a grace period."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]  # runs until the event is set
CleanupContext = Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]


def background(
    name: str, *workers: Worker, grace: float = 20.0, after: Callable[[], Awaitable[object]] | None = None
) -> CleanupContext:
    """An ``app.cleanup_ctx`` entry running ``workers`` side by side; at shutdown they get ``grace`` seconds to
    finish (then they are cancelled), and ``after`` runs (e.g. closing their HTTP client)."""

    @contextlib.asynccontextmanager
    async def context(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = [
            asyncio.create_task(work(stop), name=f"{name}-{n}") for n, work in enumerate(workers)
        ]
        logger.info("%s started", name)
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(TimeoutError):  # wait_for cancels what has not finished by then
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), grace)
            if after is not None:
                await after()
            logger.info("%s stopped", name)

    return context
