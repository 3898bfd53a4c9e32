"""Channel messages as insights need them, and the people who opted out of being named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.platform.storage.base import Database, Row, Store
from bot.platform.storage.times import from_db_time, to_db_time


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    channel_id: str
    message_id: str
    tenant_id: str
    team_id: str | None
    thread_id: str  # the thread's root message id (its own id for a root)
    is_reply: bool
    author_id: str
    author_name: str | None
    created_at: datetime
    is_question: bool = False
    mentions: int = 0
    snippet: str | None = None
    reactions: int = 0


@dataclass(frozen=True, slots=True)
class Root:
    channel_id: str
    message_id: str
    author_id: str
    created_at: datetime
    is_question: bool
    snippet: str | None
    first_reply_at: datetime | None  # the first reply by someone else


class InsightsStore:
    """Over the platform's store, whose driver is looked up at each call: building one touches no storage
    (features are built where there is none, e.g. to list commands)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def _db(self) -> Database:
        return self._store.db

    def _row(self, m: ChannelMessage) -> tuple[object, ...]:
        return (
            m.channel_id,
            m.message_id,
            m.tenant_id,
            m.team_id,
            m.thread_id,
            1 if m.is_reply else 0,
            m.author_id,
            m.author_name,
            to_db_time(m.created_at),
            m.created_at.weekday(),
            m.created_at.hour,
            1 if m.is_question else 0,
            m.mentions,
            m.snippet,
            m.reactions,
        )

    async def ingest(self, messages: Sequence[ChannelMessage]) -> None:
        """Store messages; one seen before (a redelivery, a backfill overlap) is left as it is."""
        await self._db.executemany(
            "INSERT INTO channel_messages (channel_id, message_id, tenant_id, team_id, thread_id, is_reply, "
            "author_id, author_name, created_at, weekday, hour, is_question, mentions, snippet, reactions) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
            "ON CONFLICT (channel_id, message_id) DO NOTHING",
            [self._row(m) for m in messages],
        )

    async def edited(
        self, channel_id: str, message_id: str, *, is_question: bool, snippet: str | None, at: datetime
    ) -> bool:
        changed = await self._db.execute(
            "UPDATE channel_messages SET is_question = $3, snippet = $4, edited_at = $5 "
            "WHERE channel_id = $1 AND message_id = $2",
            channel_id,
            message_id,
            1 if is_question else 0,
            snippet,
            to_db_time(at),
        )
        return changed == 1

    async def reacted(self, channel_id: str, message_id: str, change: int) -> bool:
        """Reactions added (positive) or removed (negative) on a message; never below zero."""
        changed = await self._db.execute(
            "UPDATE channel_messages SET reactions = CASE WHEN reactions + $3 < 0 THEN 0 ELSE reactions + $3 END "
            "WHERE channel_id = $1 AND message_id = $2",
            channel_id,
            message_id,
            change,
        )
        return changed == 1

    async def deleted(self, channel_id: str, message_id: str) -> bool:
        changed = await self._db.execute(
            "UPDATE channel_messages SET deleted = 1, snippet = NULL WHERE channel_id = $1 AND message_id = $2",
            channel_id,
            message_id,
        )
        return changed == 1

    async def thread_started(self, channel_id: str, thread_id: str) -> bool:
        """Whether a message of that thread is stored already (deleted ones count: the thread began)."""
        found = await self._db.fetchval(
            "SELECT 1 FROM channel_messages WHERE channel_id = $1 AND thread_id = $2 LIMIT 1", channel_id, thread_id
        )
        return found is not None

    async def message(self, channel_id: str, message_id: str) -> ChannelMessage | None:
        """A message as insights count it; None when it was never seen or was deleted."""
        row = await self._db.fetchrow(
            "SELECT * FROM channel_messages WHERE channel_id = $1 AND message_id = $2 AND deleted = 0",
            channel_id,
            message_id,
        )
        return _message(row) if row is not None else None

    async def count(self) -> int:
        """Messages stored and not deleted, over every channel."""
        return int(await self._db.fetchval("SELECT COUNT(*) FROM channel_messages WHERE deleted = 0"))

    def _scope(self, channel_ids: Sequence[str], start: int) -> tuple[str, list[str]]:
        marks = ", ".join(f"${n}" for n in range(start, start + len(channel_ids)))
        return f"channel_id IN ({marks})", list(channel_ids)

    async def totals(self, channel_ids: Sequence[str], since: datetime, until: datetime) -> tuple[int, int, int]:
        """(messages, replies, distinct authors) in the period."""
        where, ids = self._scope(channel_ids, 3)
        row = await self._db.fetchrow(
            "SELECT COUNT(*) AS messages, COALESCE(SUM(is_reply), 0) AS replies, COUNT(DISTINCT author_id) AS authors "
            f"FROM channel_messages WHERE {where} AND deleted = 0 AND created_at >= $1 AND created_at < $2",
            to_db_time(since),
            to_db_time(until),
            *ids,
        )
        assert row is not None
        return int(row["messages"]), int(row["replies"]), int(row["authors"])

    async def top_authors(
        self, channel_ids: Sequence[str], since: datetime, until: datetime, limit: int
    ) -> list[tuple[str, str | None, int]]:
        where, ids = self._scope(channel_ids, 4)
        rows = await self._db.fetch(
            "SELECT author_id, MAX(author_name) AS name, COUNT(*) AS n FROM channel_messages "
            f"WHERE {where} AND deleted = 0 AND created_at >= $1 AND created_at < $2 "
            "GROUP BY author_id ORDER BY n DESC, author_id LIMIT $3",
            to_db_time(since),
            to_db_time(until),
            limit,
            *ids,
        )
        return [(r["author_id"], r["name"], int(r["n"])) for r in rows]

    async def histogram(
        self, channel_ids: Sequence[str], since: datetime, until: datetime
    ) -> list[tuple[int, int, int]]:
        """(weekday, hour, messages) cells, UTC."""
        where, ids = self._scope(channel_ids, 3)
        rows = await self._db.fetch(
            "SELECT weekday, hour, COUNT(*) AS n FROM channel_messages "
            f"WHERE {where} AND deleted = 0 AND created_at >= $1 AND created_at < $2 GROUP BY weekday, hour",
            to_db_time(since),
            to_db_time(until),
            *ids,
        )
        return [(int(r["weekday"]), int(r["hour"]), int(r["n"])) for r in rows]

    async def roots(self, channel_ids: Sequence[str], since: datetime, until: datetime) -> list[Root]:
        """Threads started in the period, each with its first reply by someone other than its author."""
        where, ids = self._scope(channel_ids, 3)
        rows = await self._db.fetch(
            "SELECT m.channel_id, m.message_id, m.author_id, m.created_at, m.is_question, m.snippet, "
            "MIN(r.created_at) AS first_reply "
            "FROM channel_messages m LEFT JOIN channel_messages r ON r.channel_id = m.channel_id "
            "AND r.thread_id = m.thread_id AND r.is_reply = 1 AND r.deleted = 0 AND r.author_id <> m.author_id "
            f"WHERE m.{where} AND m.is_reply = 0 AND m.deleted = 0 AND m.created_at >= $1 AND m.created_at < $2 "
            "GROUP BY m.channel_id, m.message_id, m.author_id, m.created_at, m.is_question, m.snippet",
            to_db_time(since),
            to_db_time(until),
            *ids,
        )
        return [
            Root(
                r["channel_id"],
                r["message_id"],
                r["author_id"],
                from_db_time(r["created_at"]),
                bool(r["is_question"]),
                r["snippet"],
                from_db_time(r["first_reply"]) if r["first_reply"] else None,
            )
            for r in rows
        ]

    async def opted_out(self, tenant_id: str) -> set[str]:
        rows = await self._db.fetch("SELECT user_id FROM insights_optout WHERE tenant_id = $1", tenant_id)
        return {r["user_id"] for r in rows}

    async def set_optout(self, tenant_id: str, user_id: str, at: datetime, *, out: bool) -> None:
        if out:
            await self._db.execute(
                "INSERT INTO insights_optout (tenant_id, user_id, at) VALUES ($1, $2, $3) "
                "ON CONFLICT (tenant_id, user_id) DO NOTHING",
                tenant_id,
                user_id,
                to_db_time(at),
            )
        else:
            await self._db.execute(
                "DELETE FROM insights_optout WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
            )

    async def purge_team(self, team_id: str) -> int:
        return await self._db.execute("DELETE FROM channel_messages WHERE team_id = $1", team_id)

    async def purge_channel(self, channel_id: str) -> int:
        return await self._db.execute("DELETE FROM channel_messages WHERE channel_id = $1", channel_id)

    async def purge_before(self, cutoff: datetime) -> int:
        return await self._db.execute("DELETE FROM channel_messages WHERE created_at < $1", to_db_time(cutoff))


def _message(row: Row) -> ChannelMessage:
    return ChannelMessage(
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        tenant_id=row["tenant_id"],
        team_id=row["team_id"],
        thread_id=row["thread_id"],
        is_reply=bool(row["is_reply"]),
        author_id=row["author_id"],
        author_name=row["author_name"],
        created_at=from_db_time(row["created_at"]),
        is_question=bool(row["is_question"]),
        mentions=int(row["mentions"]),
        snippet=row["snippet"],
        reactions=int(row["reactions"]),
    )
