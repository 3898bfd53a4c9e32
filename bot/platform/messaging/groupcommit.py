"""Group commit: many small ledger writes from concurrent senders share one statement.

Each caller still waits until its own write is committed (so "marked sending before the request leaves" holds),
but 64 concurrent senders cost one round trip instead of 64. A batch is whatever is ready in the same turn of the
event loop, plus whatever arrives while the previous batch is being written: no timer, so a lone sender pays no
extra latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Collects items and hands them to ``flush`` together; each submitter gets its own item's result."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 256) -> None:
        self._flush_items = flush
        self._max = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the other ready senders enqueue first
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            try:
                results = await self._flush_items([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
            except Exception as exc:
                logger.exception("a grouped ledger write failed; %d callers get the error", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
