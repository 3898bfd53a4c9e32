"""Times in storage: ISO-8601 UTC text in both dialects (sortable, exact, portable)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.platform.storage.base import StorageError


def to_db_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise StorageError("naive datetime given to storage; use timezone-aware UTC")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)
