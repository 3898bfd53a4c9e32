"""Outreach's rules without Teams: who sees a notification, queueing once per key, and the limits of nudging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.features.outreach.service import Draft, NudgeRefused, OutreachService, new_notification_id
from bot.platform.messaging.ledger import Notification
from tests.features.outreach.rig import OutreachBot, announce, deliver_everything
from tests.support.turns import USER_AAD

CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Quarterly update"}]}


@pytest.fixture
def service(sender_bot: OutreachBot) -> OutreachService:
    return OutreachService(sender_bot.outbox, sender_bot.bot.store, sender_bot.clock)


def _draft(key: str = "q3-update", *, ack: bool = False) -> Draft:
    return Draft(
        notification_id=new_notification_id(),
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        sender="api:0123456789ab",
        idempotency_key=key,
        card=CARD,
        ack_required=ack,
        recipients=[("user:ana", {"userId": "ana"}), ("user:ben", {"userId": "ben"})],
    )


async def _delivered(bot: OutreachBot, service: OutreachService) -> Notification:
    notification = await service.find(await announce(bot))
    await deliver_everything(bot)
    assert notification is not None
    return notification


async def _nudged(service: OutreachService, notification: Notification) -> Notification:
    done = await service.nudge(notification)
    assert done.nudge is not None
    return done.nudge


async def test_the_same_key_twice_queues_once(service: OutreachService) -> None:
    first, created = await service.queue(_draft())
    again, created_again = await service.queue(_draft())
    assert (created, created_again) == (True, False)
    assert again.id == first.id


async def test_an_api_caller_sees_only_its_own_notifications(service: OutreachService) -> None:
    notification, _ = await service.queue(_draft())
    assert await service.owned(notification.id, "api:0123456789ab") == notification
    assert await service.owned(notification.id, "api:ba9876543210") is None


async def test_a_nudge_carries_the_original_under_a_reminder_banner(
    sender_bot: OutreachBot, service: OutreachService
) -> None:
    original = await _delivered(sender_bot, service)
    nudge = await _nudged(service, original)
    assert nudge.card["body"][0]["text"] == "Reminder: please read and acknowledge"
    assert nudge.card["body"][1:] == original.card["body"]
    assert nudge.card["actions"] == original.card["actions"]  # its Acknowledge button answers the original


async def test_a_nudge_reaches_only_who_has_not_acknowledged(sender_bot: OutreachBot, service: OutreachService) -> None:
    notification, _ = await service.queue(_draft(ack=True))
    await deliver_everything(sender_bot)
    await service.acknowledge(notification, "ana", conversation_id="a:chat-ana")
    nudge = await _nudged(service, notification)
    page = await sender_bot.ledger.page(nudge.id, state=None, after="", limit=10)
    assert [d.recipient_key for d in page] == ["user:ben"]


async def test_a_nudge_itself_cannot_be_nudged(sender_bot: OutreachBot, service: OutreachService) -> None:
    nudge = await _nudged(service, await _delivered(sender_bot, service))
    with pytest.raises(NudgeRefused, match="this is a nudge already; nudge the original notification"):
        await service.nudge(nudge)


async def test_a_cancelled_notification_cannot_be_nudged(sender_bot: OutreachBot, service: OutreachService) -> None:
    original = await _delivered(sender_bot, service)
    await service.cancel(original)
    cancelled = await service.find(original.id)
    assert cancelled is not None
    with pytest.raises(NudgeRefused, match="this notification was cancelled"):
        await service.nudge(cancelled)


async def test_a_refused_nudge_says_how_long_until_the_next(sender_bot: OutreachBot, service: OutreachService) -> None:
    original = await _delivered(sender_bot, service)
    await _nudged(service, original)
    sender_bot.clock.advance(minutes=20)
    with pytest.raises(NudgeRefused) as refused:
        await service.nudge(original)
    assert refused.value.retry_after == timedelta(minutes=40)


async def test_acknowledging_records_the_time_of_the_click(sender_bot: OutreachBot, service: OutreachService) -> None:
    original = await _delivered(sender_bot, service)
    sender_bot.clock.advance(minutes=5)
    at = await service.acknowledge(original, USER_AAD, conversation_id="a:1personal-chat")
    assert at == sender_bot.clock()
    assert (await service.progress(original)).acknowledged == 1
