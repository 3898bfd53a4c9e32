"""One injectable clock for every test: fixed unless a test moves it, so nothing depends on the time of day or year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

# A Tuesday morning, away from DST changes and midnight in every zone the tests use.
DEFAULT_NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = DEFAULT_NOW) -> None:
        if now.tzinfo is None:
            raise ValueError("the fake clock keeps aware UTC times")
        self._now = now

    def __call__(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move on by ``delta`` or by ``timedelta(**units)`` (not both); answers the new now."""
        if (delta is None) == (not units):
            raise TypeError("advance takes a timedelta or units such as minutes=5, exactly one of them")
        self._now += delta if delta is not None else timedelta(**units)
        return self._now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
