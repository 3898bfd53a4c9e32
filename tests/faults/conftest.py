"""The fault suite: real Courier processes against the connector emulator, with faults injected from outside.

Select it with ``-m faults``; it prints its figures (run with ``-s`` to see them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.sandbox.emulators.connector import ConnectorEmulator
from tests.support.databases import drop_schema, postgres_schema_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def slow_connector() -> Iterator[ConnectorEmulator]:
    """Anonymous, no rate limits (Courier paces itself), each write taking 20 ms so kills land mid-flight."""
    emulator = ConnectorEmulator(require_auth=False, enforce_limits=False)
    emulator.write_delay = 0.02
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    url, schema = await postgres_schema_url()
    yield url
    await drop_schema(schema)
