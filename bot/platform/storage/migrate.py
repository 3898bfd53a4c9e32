"""Schema migrations: numbered SQL files applied in order, once, recorded in ``schema_migrations``.

The platform's own migrations live beside the code that owns the tables (``bot/platform/storage/migrations``,
``bot/platform/messaging/migrations``); each feature brings its folder (``bot/features/<name>/migrations``). The
runner collects every folder it is given; versions are unique across all of them, so a database migrated before
the per-feature layout sees the same numbers.

``NNNN_name.sql`` serves both dialects; ``NNNN_name.sqlite.sql`` / ``NNNN_name.postgresql.sql`` serve one.
PostgreSQL replicas starting together take an advisory lock so only one migrates at a time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bot.platform.storage.base import Database, StorageError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MESSAGING_MIGRATIONS_DIR = Path(__file__).parent.parent / "messaging" / "migrations"
PLATFORM_MIGRATIONS: tuple[Path, ...] = (MIGRATIONS_DIR, MESSAGING_MIGRATIONS_DIR)
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgresql))?\.sql$")
_ADVISORY_LOCK_KEY = 0x436F7572  # "Cour"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path


def discover(dialect: str, directories: Sequence[Path] = PLATFORM_MIGRATIONS) -> list[Migration]:
    """Every migration of ``directories`` for ``dialect``, in version order (a version used twice is an error)."""
    found: dict[int, Migration] = {}
    paths = sorted((p for d in dict.fromkeys(directories) for p in d.glob("*.sql")), key=lambda p: p.name)
    for path in paths:
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


async def apply_migrations(db: MigratableDatabase, directories: Sequence[Path] = PLATFORM_MIGRATIONS) -> int:
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
        for migration in discover(db.dialect, directories):
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
