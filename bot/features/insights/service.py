"""The insights feature's rules: what ``insights ...`` asks for, which channels a report covers, opting out, and
when the weekly digest comes. No Teams types here; the metrics themselves are in :mod:`metrics`, what counts as a
question in :mod:`ingest`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.features.insights.metrics import Insights, compute
from bot.features.insights.store import InsightsStore
from bot.platform.storage.base import Store
from bot.platform.storage.models import ConversationKind
from bot.platform.time import localize, valid_zone

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "7d"
DIGEST_DAYS = 7
DIGEST_AT = time(9, 0)  # Mondays, in the zone of whoever turned the digest on
OPT_OUT = {"optout", "opt out"}
OPT_IN = {"optin", "opt in"}


@dataclass(frozen=True, slots=True)
class Report:
    """Insights for the channel (or its whole team) over the last ``days``."""

    days: int
    team: bool = False


@dataclass(frozen=True, slots=True)
class Weekly:
    """``insights weekly [on|off]``; ``switch`` is what followed ``weekly`` ("" means on)."""

    switch: str


@dataclass(frozen=True, slots=True)
class ReadHistory:
    """``insights backfill``: read the channel's history from Graph."""


@dataclass(frozen=True, slots=True)
class OptOut:
    out: bool  # False: opt back in


@dataclass(frozen=True, slots=True)
class UnknownPeriod:
    text: str


Request = Report | Weekly | ReadHistory | OptOut | UnknownPeriod


def parse_request(args: str) -> Request:
    """What the words after ``insights`` ask for."""
    arg = args.strip().lower() or DEFAULT_PERIOD
    if arg == "backfill":
        return ReadHistory()
    if arg.startswith("weekly"):
        return Weekly(arg.removeprefix("weekly").strip())
    if arg in OPT_OUT | OPT_IN:
        return OptOut(out=arg in OPT_OUT)
    team = arg.startswith("team")
    days = PERIODS.get(arg.replace("team", "").strip() or DEFAULT_PERIOD)
    return UnknownPeriod(arg) if days is None else Report(days, team=team)


def next_digest(now: datetime, zone: str) -> datetime:
    """The next Monday 09:00 in ``zone`` strictly after today (a Monday's digest is followed by next week's)."""
    tz = valid_zone(zone) or valid_zone("UTC")
    assert tz is not None
    local = now.astimezone(tz)
    monday = (local + timedelta(days=(7 - local.weekday()) % 7 or 7)).date()
    return localize(datetime.combine(monday, DIGEST_AT), tz)


@dataclass(frozen=True, slots=True)
class Channel:
    id: str  # the Teams channel id, which is what messages are stored under
    name: str


class InsightsService:
    """Reports over the channels Courier is installed in, and people's wish not to be named."""

    def __init__(self, messages: InsightsStore, store: Store) -> None:
        self._messages = messages
        self._store = store

    async def report(self, channels: Sequence[str], *, tenant_id: str, now: datetime, days: int) -> Insights:
        return await compute(self._messages, channels, tenant_id=tenant_id, now=now, days=days)

    async def team_channels(self, tenant_id: str | None, team_id: str) -> list[str]:
        """Every channel of the team Courier is still installed in (``tenant_id`` None: any tenant's)."""
        return [
            c.channel_id or c.conversation_id
            async for c in self._store.iter_conversations(tenant_id=tenant_id)
            if c.team_id == team_id and c.active
        ]

    async def search_channels(self, tenant_id: str | None, text: str, *, limit: int) -> list[Channel]:
        """Installed channels whose name contains ``text`` (every one when it is empty), at most ``limit``."""
        found: list[Channel] = []
        needle = text.strip().lower()
        async for conversation in self._store.iter_conversations(tenant_id=tenant_id, kind=ConversationKind.CHANNEL):
            name = conversation.name or "Channel"
            if needle and needle not in name.lower():
                continue
            found.append(Channel(conversation.channel_id or conversation.conversation_id, name))
            if len(found) >= limit:
                break
        return found

    async def channel_name(self, conversation_id: str) -> str | None:
        record = await self._store.get_conversation(conversation_id)
        return record.name if record is not None else None

    async def set_optout(self, tenant_id: str, user_id: str, now: datetime, *, out: bool) -> None:
        """Opted-out people are still counted, never named."""
        await self._messages.set_optout(tenant_id, user_id, now, out=out)
