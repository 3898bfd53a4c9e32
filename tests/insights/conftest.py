"""Insights storage runs on SQLite and PostgreSQL alike."""

from tests.storage.conftest import database_url, store

__all__ = ["database_url", "store"]
