"""Who a notification was sent to (so whose acknowledgement counts), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.storage import SqlStore
from tests.support.clock import DEFAULT_NOW

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ANA = "aaaaaaaa-1111-2222-3333-444444444444"
BEN = "bbbbbbbb-1111-2222-3333-444444444444"
CHANNEL = "19:general@thread.tacv2"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": []}


async def _sent(ledger: OutreachLedger, recipients: list[tuple[str, dict[str, Any]]], conversations: list[str]) -> str:
    """A notification to ``recipients``, each sent to the conversation at the same index; its id."""
    notification, _ = await ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="k",
        card=CARD,
        ack_required=True,
        send_at=DEFAULT_NOW,
        now=DEFAULT_NOW,
        recipients=recipients,
    )
    taken = await ledger.claim_due(DEFAULT_NOW, limit=100, lease=timedelta(minutes=1))
    await ledger.mark_sending_many(taken, DEFAULT_NOW)
    by_key = dict(zip([k for k, _ in recipients], conversations, strict=True))
    await ledger.mark_sent_many([(d, by_key[d.recipient_key], "act-1") for d in taken], DEFAULT_NOW)
    return notification.id


async def test_a_user_recipient_is_one_from_any_conversation(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    nid = await _sent(ledger, [(f"user:{ANA}", {"userId": ANA})], ["a:ana-chat"])
    assert await ledger.is_recipient(nid, ANA.upper(), conversation_id="a:elsewhere")
    assert not await ledger.is_recipient(nid, BEN, conversation_id="a:ben-chat")


async def test_whoever_clicks_in_the_channel_it_was_posted_to_is_a_recipient(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    nid = await _sent(ledger, [("channel:team/chan", {"channel": {"teamId": "team", "channelId": "chan"}})], [CHANNEL])
    assert await ledger.is_recipient(nid, BEN, conversation_id=CHANNEL)
    assert not await ledger.is_recipient(nid, BEN, conversation_id="19:other@thread.tacv2")
    assert not await ledger.is_recipient(nid, BEN, conversation_id=None)


async def test_a_conversation_recipient_counts_before_it_is_even_sent(store: SqlStore) -> None:
    ledger = OutreachLedger(store.db)
    notification, _ = await ledger.create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="k",
        card=CARD,
        ack_required=True,
        send_at=DEFAULT_NOW,
        now=DEFAULT_NOW,
        recipients=[("conversation:19:group@thread.v2", {"conversationId": "19:group@thread.v2"})],
    )
    assert await ledger.is_recipient(notification.id, BEN, conversation_id="19:group@thread.v2")
    assert not await ledger.is_recipient(notification.id, BEN, conversation_id="19:group@thread.v2x")
