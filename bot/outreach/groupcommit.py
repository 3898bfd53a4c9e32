"""Group commit: many small ledger writes from concurrent senders share one transaction.

Each caller still waits until its own write is committed (so "marked sending before the request leaves" holds),
but 64 concurrent senders cost one commit instead of 64.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.storage.base import Store

logger = logging.getLogger(__name__)
T = TypeVar("T")


class GroupCommit:
    def __init__(self, store: Store, *, max_batch: int = 256) -> None:
        self._store = store
        self._max = max_batch
        self._pending: list[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def run(self, op: Callable[[], Awaitable[T]]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the other ready senders enqueue first
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            results: list[Any] = []
            try:
                async with self._store.transaction():
                    for op, _ in batch:
                        results.append(await op())
            except Exception as exc:
                logger.exception("a grouped ledger write failed; %d callers get the error", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
