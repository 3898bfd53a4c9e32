"""Waiting on whichever comes first: one of several events, or a timeout (background workers' idle waits)."""

from __future__ import annotations

import asyncio


async def first_of(*events: asyncio.Event, timeout: float | None) -> None:  # noqa: ASYNC109 - an idle wait, not a deadline
    """Return as soon as any of ``events`` is set, or after ``timeout`` seconds."""
    waiters = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
