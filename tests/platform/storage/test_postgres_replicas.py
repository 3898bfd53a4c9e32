"""Several replicas on one PostgreSQL: concurrent start-up migrates once."""

import asyncio

from bot.platform.storage import open_store
from tests.support.databases import drop_schema, postgres_schema_url


async def test_replicas_starting_together_both_open() -> None:
    url, schema = await postgres_schema_url()
    try:
        stores = await asyncio.gather(*(open_store(url) for _ in range(3)))
        versions = {await s.schema_version() for s in stores}
        assert len(versions) == 1
        for s in stores:
            await s.close()
    finally:
        await drop_schema(schema)
