"""Which inbound turns go first when many arrive at once.

Teams waits about 5 s for the answer to an invoke (a card action, a messaging-extension query) and shows "Unable to
reach app" after that, but about 15 s for a message. So invokes go straight in, while other turns take one of a
bounded number of places: under a burst, an invoke competes for the CPU with at most that many message turns
instead of with every one that arrived, and the messages wait their turn (their replies still arrive well within
Teams' 15 s at the throughput ``bench/turns.py`` measures).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TurnAdmission:
    def __init__(self, message_slots: int) -> None:
        self._slots = asyncio.Semaphore(message_slots)

    @asynccontextmanager
    async def admit(self, activity_type: str) -> AsyncIterator[None]:
        """Hold a place for the turn while it runs; invokes need none."""
        if activity_type == "invoke":
            yield
            return
        async with self._slots:
            yield
