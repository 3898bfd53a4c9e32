"""The event bus: every subscriber of an event's type hears it, in the order they subscribed; a failing subscriber
is logged and stops neither the others nor the publisher."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from bot.platform.events import ConsentChanged, ConversationInstalled, EventBus, SignedIn
from bot.platform.identity.delegated import UserRef

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
INSTALLED = ConversationInstalled(tenant_id=TENANT, conversation_id="19:general@thread.tacv2", kind="channel")


@dataclass
class Listener:
    """A subscriber that remembers what it heard, under a name (to see the order subscribers are called in)."""

    name: str
    log: list[tuple[str, object]] = field(default_factory=list)

    async def __call__(self, event: ConversationInstalled) -> None:
        self.log.append((self.name, event))


async def test_every_subscriber_receives_a_published_event() -> None:
    bus = EventBus()
    log: list[tuple[str, object]] = []
    first, second, third = Listener("first", log), Listener("second", log), Listener("third", log)
    for listener in (first, second, third):
        bus.subscribe(ConversationInstalled, listener)
    await bus.publish(INSTALLED)
    assert log == [("first", INSTALLED), ("second", INSTALLED), ("third", INSTALLED)]


async def test_a_subscriber_hears_only_the_type_it_subscribed_to() -> None:
    bus = EventBus()
    installs = Listener("installs")
    bus.subscribe(ConversationInstalled, installs)
    await bus.publish(ConsentChanged(tenant_id=TENANT, granted=True))
    await bus.publish(SignedIn(UserRef(TENANT, "oid"), None, "Ana"))
    assert installs.log == []


async def test_publishing_an_event_nobody_subscribed_to_does_nothing() -> None:
    bus = EventBus()
    await bus.publish(INSTALLED)
    assert bus.subscribers(ConversationInstalled) == 0


async def test_one_failing_subscriber_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    log: list[tuple[str, object]] = []

    async def broken(event: ConversationInstalled) -> None:
        raise RuntimeError("the welcome card could not be built")

    bus.subscribe(ConversationInstalled, Listener("before", log))
    bus.subscribe(ConversationInstalled, broken)
    bus.subscribe(ConversationInstalled, Listener("after", log))
    with caplog.at_level(logging.ERROR, logger="bot.platform.events"):
        await bus.publish(INSTALLED)  # the publisher is not interrupted either
    assert log == [("before", INSTALLED), ("after", INSTALLED)]
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RuntimeError]
    assert "ConversationInstalled" in caplog.text


async def test_a_subscriber_added_while_publishing_hears_the_next_event_only() -> None:
    bus = EventBus()
    late = Listener("late")

    async def subscribes_another(event: ConversationInstalled) -> None:
        bus.subscribe(ConversationInstalled, late)

    bus.subscribe(ConversationInstalled, subscribes_another)
    await bus.publish(INSTALLED)
    assert late.log == []
    await bus.publish(INSTALLED)
    assert late.log == [("late", INSTALLED)]
