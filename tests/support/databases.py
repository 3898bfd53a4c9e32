"""The storage suite runs against SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.platform.storage import SqlStore, open_store

POSTGRES_URL = os.environ.get("COURIER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def postgres_schema_url() -> tuple[str, str]:
    """A fresh schema for one test; returns (url with search_path, schema)."""
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(
            f"PostgreSQL is unreachable at {POSTGRES_URL} ({type(exc).__name__}); the PostgreSQL half of the "
            "storage suite did NOT run. CI has PostgreSQL; set COURIER_TEST_POSTGRES_URL to run it here."
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.close()
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", schema


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'courier.db'}"
        return
    url, schema = await postgres_schema_url()
    yield url
    await drop_schema(schema)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(database_url)
    yield opened
    await opened.close()
