"""Schema migrations: numbered SQL files applied in order, once, recorded in ``schema_migrations``.

``NNNN_name.sql`` serves both dialects; ``NNNN_name.sqlite.sql`` / ``NNNN_name.postgresql.sql`` serve one.
PostgreSQL replicas starting together take an advisory lock so only one migrates at a time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bot.storage.base import Database, StorageError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgresql))?\.sql$")
_ADVISORY_LOCK_KEY = 0x436F7572  # "Cour"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path


def discover(dialect: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise StorageError(f"migration file name not understood: {path.name}")
        version, name, only = int(match.group(1)), match.group(2), match.group(3)
        if only is not None and only != dialect:
            continue
        if version in found:
            raise StorageError(f"two migrations share version {version:04d}: {found[version].path.name}, {path.name}")
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found)]


class MigratableDatabase(Database, Protocol):
    async def executescript(self, script: str) -> None: ...


async def apply_migrations(db: MigratableDatabase) -> int:
    """Apply pending migrations inside one transaction; return the schema version reached."""
    async with db.transaction():
        if db.dialect == "postgresql":
            await db.execute(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_KEY})")
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL)"
        )
        applied = {int(r["version"]) for r in await db.fetch("SELECT version FROM schema_migrations")}
        version = max(applied, default=0)
        for migration in discover(db.dialect):
            if migration.version in applied:
                continue
            logger.info("applying migration %04d_%s", migration.version, migration.name)
            await db.executescript(migration.path.read_text(encoding="utf-8"))
            await db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                datetime.now(UTC).isoformat(),
            )
            version = max(version, migration.version)
        return version
