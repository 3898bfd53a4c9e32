"""The app's bot as ``make_bot`` builds it, plus what the weekly digest needs: the platform's outbox sending to a
Bot Connector emulator (so the digest's proactive posts can be read back as Teams would receive them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import FEATURES
from bot.platform.cards import CardRenderer
from bot.platform.feature import migration_folders
from bot.platform.messaging.outbox import Outbox
from bot.platform.server import build_features
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.platform.storage import open_store
from bot.platform.teams.connector import BotConnector
from bot.platform.turns.dispatch import Dispatcher
from bot.platform.turns.middleware import default_middleware
from bot.sandbox.emulators.connector import ConnectorEmulator
from tests.support.bot import Bot
from tests.support.clock import FakeClock
from tests.support.turns import activity


@dataclass
class InsightsBot:
    bot: Bot
    connector: ConnectorEmulator

    @property
    def services(self) -> Services:
        return self.bot.services

    def in_channel(self, type_: str = "message", **fields: Any) -> dict[str, Any]:
        """An activity from the channel, with the emulator as its service URL (where proactive posts go)."""
        return activity(type_, conversation_type="channel", serviceUrl=self.connector.url, **fields)

    def posted(self, conversation_id: str) -> list[dict[str, Any]]:
        """The cards the connector received for the conversation, in order."""
        return [
            attachment["content"]
            for sent in self.connector.activities(conversation_id)
            for attachment in sent.get("attachments") or []
        ]


@asynccontextmanager
async def insights_bot_running(tmp_path: Path, clock: FakeClock) -> AsyncIterator[InsightsBot]:
    emulator = ConnectorEmulator(require_auth=False)
    emulator.start()
    settings = Settings(dangerously_allow_anonymous=True)
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}", migrations=migration_folders(FEATURES))
    outbox = Outbox(settings, store, credential=None, graph=None, clock=clock, connector=BotConnector(None))
    services = Services(
        settings=settings, store=store, cards=CardRenderer(), clock=clock, proactive=outbox.proactive, outbox=outbox
    )
    router, _ = build_features(services, FEATURES)
    dispatcher = Dispatcher(router, default_middleware(services), services.cards)
    try:
        yield InsightsBot(Bot(services, router, dispatcher), emulator)
    finally:
        await outbox.close()
        await store.close()
        emulator.stop()
