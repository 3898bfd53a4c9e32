"""Fresh databases for a benchmark run: SQLite files in a temporary folder, or PostgreSQL schemas of their own
(the run never touches other tables of that database, and its schemas are dropped when it ends)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path


class BenchDatabases:
    def __init__(self, postgres_url: str = "", *, prefix: str = "courier-bench-") -> None:
        self._postgres = postgres_url
        self._folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._schemas: list[str] = []

    @property
    def label(self) -> str:
        return "PostgreSQL" if self._postgres else "SQLite"

    async def fresh(self, name: str = "bench") -> str:
        """The URL of a new, empty database."""
        if not self._postgres:
            return f"sqlite:///{self._folder / f'{name}.db'}"
        import asyncpg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(self._postgres)
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.close()
        self._schemas.append(schema)
        sep = "&" if "?" in self._postgres else "?"
        return f"{self._postgres}{sep}options=-csearch_path%3D{schema}"

    async def close(self) -> None:
        if not self._schemas:
            return
        import asyncpg

        conn = await asyncpg.connect(self._postgres)
        for schema in self._schemas:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
        self._schemas.clear()
