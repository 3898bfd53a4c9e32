"""Outreach's rig: the feature alone over SQLite with a real outbox (its ledger; no engine runs), on a fake clock.

``make_bot`` builds no outbox, and outreach queues everything through one. Nothing is sent here: deliveries stay
queued unless a test hands them out with :func:`deliver_everything` (as the engine would, without a connector).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.features.outreach import Outreach
from bot.platform.cards import CardRenderer
from bot.platform.feature import migration_folders
from bot.platform.messaging.ledger import Delivery, OutreachLedger
from bot.platform.messaging.outbox import Outbox
from bot.platform.server import build_router
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.platform.storage import open_store
from bot.platform.teams.connector import BotConnector
from bot.platform.turns.dispatch import Dispatcher
from bot.platform.turns.middleware import default_middleware
from tests.support.bot import Bot
from tests.support.clock import FakeClock
from tests.support.turns import RecordingTurn, activity

LEASE = timedelta(minutes=5)


@dataclass
class OutreachBot:
    bot: Bot
    outbox: Outbox
    clock: FakeClock

    @property
    def ledger(self) -> OutreachLedger:
        return self.outbox.ledger

    async def turn(self, data: dict[str, object]) -> RecordingTurn:
        return await self.bot.turn(data)


async def make_outreach_bot(tmp_path: Path, settings: Settings, clock: FakeClock) -> OutreachBot:
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}", migrations=migration_folders([Outreach]))
    outbox = Outbox(settings, store, credential=None, graph=None, clock=clock, connector=BotConnector(None))
    services = Services(
        settings=settings, store=store, cards=CardRenderer(), clock=clock, proactive=outbox.proactive, outbox=outbox
    )
    router = build_router(services, [Outreach])
    bot = Bot(services, router, Dispatcher(router, default_middleware(services), services.cards))
    return OutreachBot(bot, outbox, clock)


async def take_queued(bot: OutreachBot) -> list[Delivery]:
    """Every delivery due now, taken as the engine takes them (so only at the end of a test, or to send them)."""
    return await bot.ledger.claim_due(bot.clock(), limit=1_000, lease=LEASE)


async def deliver_everything(bot: OutreachBot) -> int:
    """Mark every due delivery sent, as the engine would after the connector accepted it; how many."""
    taken = await take_queued(bot)
    now = bot.clock()
    allowed = await bot.ledger.mark_sending_many(taken, now)
    sent = [d for d in taken if (d.notification_id, d.recipient_key) in allowed]
    chats = [(d, str(d.recipient.get("conversationId", f"a:chat-{d.recipient_key}")), None) for d in sent]
    await bot.ledger.mark_sent_many(chats, now)
    return len(sent)


def invoke_body(turn: RecordingTurn) -> dict[str, Any]:
    response = turn.state.invoke_response
    assert response is not None and response.status == 200 and response.body is not None
    return dict(response.body)


def card_click(verb: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A click on an Action.Execute button, as Teams sends it."""
    action = {"type": "Action.Execute", "verb": verb, "data": data}
    return activity("invoke", name="adaptiveCard/action", value={"action": action, "trigger": "manual"}, **extra)


async def announce(bot: OutreachBot, *, ack: bool = True, title: str = "Office closed Friday") -> str:
    """A sender announces to their personal chat from the "Send announcement" form; the notification's id."""
    data = {"title": title, "text": "Maintenance all day.", "link": "", "audience": "chat", "ack": str(ack).lower()}
    value = {"commandId": "sendAnnouncement", "commandContext": "compose", "data": data}
    body = invoke_body(await bot.turn(activity("invoke", name="composeExtension/submitAction", value=value)))
    text: str = body["composeExtension"]["text"]
    return text.rsplit(" ", 1)[-1]
