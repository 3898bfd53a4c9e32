"""The platform's services, bundled once at start-up by the server and given to every feature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.platform.access import CallerAuth
from bot.platform.cards import CardRenderer
from bot.platform.events import EventBus
from bot.platform.graph.client import GraphCaller, GraphClient
from bot.platform.identity.consent import AdminConsent
from bot.platform.identity.credentials import AppCredential
from bot.platform.identity.delegated import DelegatedAuth, UserRef
from bot.platform.jobs import JobScheduler
from bot.platform.messaging.outbox import Outbox
from bot.platform.messaging.proactive import Proactive
from bot.platform.settings import Settings
from bot.platform.storage.base import Store
from bot.platform.telemetry import Telemetry

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The production clock; everything else takes a :data:`Clock` so tests can inject theirs."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IdentityServices:
    credential: AppCredential | None
    delegated: DelegatedAuth | None  # None when delegated sign-in is off (no public URL or anonymous mode)
    consent: AdminConsent | None
    graph: GraphClient | None = None

    def as_user(self, user: UserRef) -> GraphCaller | None:
        """Graph as the signed-in user (delegated), or None when delegated sign-in or Graph is off here.

        Tokens are fetched (and refreshed) per call; SignInRequired comes out of the first call when the user has
        not signed in or their sign-in was revoked."""
        delegated, graph = self.delegated, self.graph
        if delegated is None or graph is None:
            return None

        async def token() -> str:
            return await delegated.get_token(user)

        return graph.with_token(token, user.tenant_id)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    cards: CardRenderer
    clock: Callable[[], datetime] = field(default=utc_now)
    proactive: Proactive | None = None
    identity: IdentityServices | None = None
    events: EventBus = field(default_factory=EventBus)
    jobs: JobScheduler = field(default_factory=lambda: JobScheduler(clock=utc_now))
    outbox: Outbox | None = None  # None only where nothing is sent (command listing, some unit tests)
    callers: CallerAuth | None = None  # who calls the HTTP API (None in rigs without HTTP: API keys only then)
    telemetry: Telemetry = field(default_factory=Telemetry.off)

    @property
    def auth(self) -> CallerAuth:
        """The HTTP API's authentication (API keys only when the server built none)."""
        return self.callers if self.callers is not None else CallerAuth(self.settings)

    def __post_init__(self) -> None:
        if not self.jobs.bound:  # a scheduler built by default keeps its jobs beside this store, on this clock
            self.jobs.bind(lambda: self.store.db, self.clock)

    async def roster(self, service_url: str, conversation_id: str, member_id: str | None) -> list[dict[str, Any]]:
        """Members of a conversation (one by id, or all) through the outbox's Bot Connector client."""
        if self.outbox is None:
            raise RuntimeError("this process has no outbox, so no Bot Connector to read a roster through")
        return await self.outbox.roster(service_url, conversation_id, member_id)

    def notice(self, title: str, text: str) -> dict[str, Any]:
        """The small titled card every feature answers with (confirmations, refusals, problems)."""
        return self.cards.render("notice", {"app_name": self.settings.app_name, "title": title, "text": text})
