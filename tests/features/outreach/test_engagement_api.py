"""Engagement end to end over HTTP, on SQLite and PostgreSQL: Teams' read receipts and reactions (signed activities
from the connector emulator, through /api/messages and the router), the signed click redirect, and what the
notifications API reports (status, recipients and their filters, CSV)."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from app import FEATURES
from bot.platform.storage import ConversationKind, ConversationRecord
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator, Recorded
from bot.sandbox.emulators.entra import EntraEmulator
from tests.support.databases import database_url  # noqa: F401 - the fixture
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings, serve

API_KEY = "test-api-key-0123456789abcdef"
PUBLIC_URL = "https://courier.contoso.example"
ANA = "aaaaaaaa-1111-2222-3333-444444444444"
BEN = "bbbbbbbb-1111-2222-3333-444444444444"
LINKED_CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "Read [the policy](https://contoso.com/policy) today.", "wrap": True},
    ],
    "actions": [
        {"type": "Action.OpenUrl", "title": "Benefits", "url": "https://contoso.com/benefits?x=1"},
        {"type": "Action.OpenUrl", "title": "Mail HR", "url": "mailto:hr@contoso.com"},
    ],
}


@pytest.fixture
async def engaged_bot(
    tmp_path: Path,
    database_url: str,  # noqa: F811 - the fixture
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
) -> AsyncIterator[LiveBot]:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    settings = dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        database_url=database_url,
        api_key_hashes=frozenset({hashlib.sha256(API_KEY.encode()).hexdigest()}),
        public_url=PUBLIC_URL,
        encryption_key="an-encryption-key-of-at-least-32-characters",
    )
    async with serve(settings, features=FEATURES) as (url, services), aiohttp.ClientSession() as session:
        connector.attach_bot(f"{url}/api/messages", app_id=APP_ID, channel=bf_channel)
        yield LiveBot(url, session, settings, bf_channel, connector, services)


async def _send(
    bot: LiveBot, *, card: dict[str, Any] | None = None, key: str = "k", users: tuple[str, ...] = (ANA,)
) -> str:
    body = {
        "idempotencyKey": key,
        "recipients": [{"userId": u} for u in users],
        "card": card or LINKED_CARD,
        "ackRequired": True,
    }
    before = len(bot.connector.recorded)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with bot.session.post(f"{bot.url}/api/notifications", json=body, headers=headers) as response:
        assert response.status == 202
        notification_id = str((await response.json())["id"])
    await bot.connector.wait_for_async(lambda r: len(r) >= before + len(users))
    await _recorded_as_sent(bot, notification_id, len(users))
    return notification_id


async def _recorded_as_sent(bot: LiveBot, notification_id: str, count: int) -> None:
    """The ledger records a send (with its message id) just after the connector accepted it: wait for that."""
    for _ in range(500):
        body = await (await _get(bot, f"/api/notifications/{notification_id}?engagement=false")).json()
        if body["totals"].get("sent", 0) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the sends of {notification_id} were not recorded within 5 s")


def _copy_for(bot: LiveBot, user: str, nth: int = 0) -> Recorded:
    """The ``nth`` card sent to ``user``'s 1:1 chat."""
    chat = next(c for c, body in bot.connector.created.items() if body["members"][0]["id"] == user)
    return [r for r in bot.connector.recorded if r.conversation_id == chat][nth]


async def _get(bot: LiveBot, path: str) -> aiohttp.ClientResponse:
    return await bot.session.get(f"{bot.url}{path}", headers={"Authorization": f"Bearer {API_KEY}"})


async def _engagement(bot: LiveBot, notification_id: str) -> dict[str, Any]:
    response = await _get(bot, f"/api/notifications/{notification_id}")
    assert response.status == 200
    return dict((await response.json())["engagement"])


async def _keys(bot: LiveBot, notification_id: str, query: str) -> list[str]:
    response = await _get(bot, f"/api/notifications/{notification_id}/recipients?{query}")
    assert response.status == 200
    return [r["key"] for r in (await response.json())["recipients"]]


def _links(copy: Recorded) -> list[str]:
    card = copy.activity["attachments"][0]["content"]
    return [card["body"][0]["text"].split("](")[1].split(")")[0], *(a["url"] for a in card["actions"] if "url" in a)]


# -- read receipts ------------------------------------------------------------------------------------------------


async def test_a_read_receipt_marks_the_copy_read(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot, users=(ANA, BEN))
    copy = _copy_for(engaged_bot, ANA)
    status = await engaged_bot.connector.deliver(
        engaged_bot.connector.read_receipt_activity(copy.conversation_id, copy.id)
    )
    assert status == 200
    engagement = await _engagement(engaged_bot, notification)
    assert (engagement["delivered"], engagement["read"]) == (2, 1)
    assert engagement["timeToRead"]["medianSeconds"] is not None
    assert await _keys(engaged_bot, notification, "read=true") == [f"user:{ANA}"]
    assert await _keys(engaged_bot, notification, "read=false") == [f"user:{BEN}"]


async def test_a_read_receipt_reads_everything_up_to_its_message_and_nothing_after(engaged_bot: LiveBot) -> None:
    first = await _send(engaged_bot, key="first")
    second = await _send(engaged_bot, key="second")
    copy = _copy_for(engaged_bot, ANA, nth=0)
    await engaged_bot.connector.deliver(engaged_bot.connector.read_receipt_activity(copy.conversation_id, copy.id))
    assert (await _engagement(engaged_bot, first))["read"] == 1
    assert (await _engagement(engaged_bot, second))["read"] == 0


async def test_only_the_first_read_counts(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot)
    copy = _copy_for(engaged_bot, ANA)
    receipt = engaged_bot.connector.read_receipt_activity
    await engaged_bot.connector.deliver(receipt(copy.conversation_id, copy.id))
    listed = await (await _get(engaged_bot, f"/api/notifications/{notification}/recipients")).json()
    await engaged_bot.connector.deliver(receipt(copy.conversation_id, str(int(copy.id) + 10)))
    again = await (await _get(engaged_bot, f"/api/notifications/{notification}/recipients")).json()
    assert again["recipients"][0]["readAt"] == listed["recipients"][0]["readAt"] is not None


async def test_a_read_receipt_without_a_message_id_reads_nothing(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot)
    copy = _copy_for(engaged_bot, ANA)
    receipt = engaged_bot.connector.read_receipt_activity(copy.conversation_id, copy.id)
    receipt["value"] = {"lastReadMessageId": 42}
    assert await engaged_bot.connector.deliver(receipt) == 200
    assert (await _engagement(engaged_bot, notification))["read"] == 0
    assert len(engaged_bot.connector.recorded) == 1  # and nothing was said in the chat


async def test_an_unsigned_read_receipt_is_refused(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot)
    copy = _copy_for(engaged_bot, ANA)
    receipt = engaged_bot.connector.read_receipt_activity(copy.conversation_id, copy.id)
    assert (await engaged_bot.post(receipt)).status == 401
    assert (await _engagement(engaged_bot, notification))["read"] == 0


# -- reactions ---------------------------------------------------------------------------------------------------


async def test_reactions_are_counted_per_type_added_and_removed(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot, users=(ANA, BEN))
    connector = engaged_bot.connector
    for user, added in ((ANA, ("like",)), (BEN, ("like", "heart"))):
        copy = _copy_for(engaged_bot, user)
        assert await connector.deliver(connector.reaction_activity(copy.conversation_id, copy.id, added=added)) == 200
    copy = _copy_for(engaged_bot, BEN)
    await connector.deliver(connector.reaction_activity(copy.conversation_id, copy.id, removed=("like",)))
    reactions = (await _engagement(engaged_bot, notification))["reactions"]
    assert reactions == {
        "heart": {"added": 1, "removed": 0, "net": 1},
        "like": {"added": 2, "removed": 1, "net": 1},
    }


async def test_reactions_on_a_channel_post_are_counted(engaged_bot: LiveBot) -> None:
    channel = "19:general@thread.tacv2"
    assert engaged_bot.services is not None
    await engaged_bot.services.store.upsert_conversation(
        ConversationRecord(
            conversation_id=channel,
            tenant_id=TENANT,
            kind=ConversationKind.CHANNEL,
            service_url=engaged_bot.connector.url,
            reference={},
            team_id="19:team@thread.tacv2",
            channel_id=channel,
        )
    )
    body = {
        "idempotencyKey": "post",
        "recipients": [{"channel": {"teamId": "19:team@thread.tacv2", "channelId": channel}}],
        "card": LINKED_CARD,
    }
    async with engaged_bot.session.post(
        f"{engaged_bot.url}/api/notifications", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as response:
        notification = str((await response.json())["id"])
    [post] = await engaged_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    await _recorded_as_sent(engaged_bot, notification, 1)
    connector = engaged_bot.connector
    for user in (ANA, BEN):  # in the post's thread, as Teams sends them
        reaction = connector.reaction_activity(
            f"{channel};messageid={post.id}",
            post.id,
            added=("laugh",),
            user=user,
            tenant_id=TENANT,
            conversation_type="channel",
        )
        assert await connector.deliver(reaction) == 200
    assert (await _engagement(engaged_bot, notification))["reactions"] == {
        "laugh": {"added": 2, "removed": 0, "net": 2}
    }


async def test_a_reaction_to_another_message_counts_for_no_notification(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot)
    copy = _copy_for(engaged_bot, ANA)
    connector = engaged_bot.connector
    await connector.deliver(connector.reaction_activity(copy.conversation_id, "1000000000001", added=("like",)))
    assert (await _engagement(engaged_bot, notification))["reactions"] == {}


# -- clicks ------------------------------------------------------------------------------------------------------


async def _click(bot: LiveBot, link: str) -> aiohttp.ClientResponse:
    """Follow a card link on the live server (its path: the card names the public URL)."""
    assert link.startswith(PUBLIC_URL + "/l/")
    return await bot.session.get(f"{bot.url}{urlsplit(link).path}", allow_redirects=False)


async def test_each_recipient_gets_signed_links_and_other_links_stay(engaged_bot: LiveBot) -> None:
    await _send(engaged_bot, users=(ANA, BEN))
    ana, ben = _links(_copy_for(engaged_bot, ANA)), _links(_copy_for(engaged_bot, BEN))
    assert all(link.startswith(PUBLIC_URL + "/l/") for link in ana[:2] + ben[:2])
    assert set(ana[:2]).isdisjoint(ben[:2])
    assert ana[2] == ben[2] == "mailto:hr@contoso.com"


async def test_a_click_redirects_to_the_stored_link_and_counts_once(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot, users=(ANA, BEN))
    policy, benefits, _ = _links(_copy_for(engaged_bot, ANA))
    first = await _click(engaged_bot, benefits)
    assert first.status == 302 and first.headers["Location"] == "https://contoso.com/benefits?x=1"
    assert (await _click(engaged_bot, benefits)).status == 302
    assert (await _click(engaged_bot, policy)).headers["Location"] == "https://contoso.com/policy"
    engagement = await _engagement(engaged_bot, notification)
    assert engagement["clicked"] == 1  # one recipient clicked (twice, on two links)
    assert await _keys(engaged_bot, notification, "clicked=true") == [f"user:{ANA}"]
    assert await _keys(engaged_bot, notification, "clicked=false") == [f"user:{BEN}"]


@pytest.mark.parametrize(
    "change",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # the signature altered
        lambda token: "W1siZXZpbCJdLDAsMF0" + token[token.index(".") :],  # another payload under the same signature
        lambda token: token.split(".")[0],  # unsigned
        lambda token: "not-a-token",
    ],
)
async def test_a_tampered_or_unsigned_link_is_a_404_and_records_nothing(engaged_bot: LiveBot, change: Any) -> None:
    notification = await _send(engaged_bot)
    link = _links(_copy_for(engaged_bot, ANA))[1]
    token = urlsplit(link).path.removeprefix("/l/")
    response = await engaged_bot.session.get(f"{engaged_bot.url}/l/{change(token)}", allow_redirects=False)
    assert response.status == 404 and "Location" not in response.headers
    assert (await _engagement(engaged_bot, notification))["clicked"] == 0


async def test_a_signed_link_to_a_link_or_recipient_that_does_not_exist_is_a_404(engaged_bot: LiveBot) -> None:
    from bot.features.outreach.links import LinkRef, LinkSigner

    notification = await _send(engaged_bot)
    signer = LinkSigner.from_settings(engaged_bot.settings)
    assert signer is not None
    for ref in (LinkRef(notification, f"user:{ANA}", 7), LinkRef(notification, f"user:{BEN}", 0)):
        response = await engaged_bot.session.get(f"{engaged_bot.url}/l/{signer.sign(ref)}", allow_redirects=False)
        assert response.status == 404
    assert (await _engagement(engaged_bot, notification))["clicked"] == 0


# -- totals, filters, CSV -----------------------------------------------------------------------------------------


async def test_the_funnel_goes_from_delivered_to_acknowledged(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot, users=(ANA, BEN))
    copy = _copy_for(engaged_bot, ANA)
    await engaged_bot.connector.deliver(engaged_bot.connector.read_receipt_activity(copy.conversation_id, copy.id))
    await _click(engaged_bot, _links(copy)[0])
    funnel = (await _engagement(engaged_bot, notification))["funnel"]
    assert [(s["stage"], s["count"], s["ofPrevious"], s["ofDelivered"]) for s in funnel] == [
        ("delivered", 2, None, 1.0),
        ("read", 1, 0.5, 0.5),
        ("clicked", 1, 1.0, 0.5),
        ("acknowledged", 0, 0.0, 0.0),
    ]


async def test_a_filter_that_is_not_true_or_false_is_a_400(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot)
    response = await _get(engaged_bot, f"/api/notifications/{notification}/recipients?acknowledged=maybe")
    assert response.status == 400 and (await response.json())["error"]["field"] == "acknowledged"


async def test_the_csv_export_streams_the_filtered_recipients_with_engagement(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot, users=(ANA, BEN))
    copy = _copy_for(engaged_bot, BEN)
    await engaged_bot.connector.deliver(engaged_bot.connector.read_receipt_activity(copy.conversation_id, copy.id))
    response = await _get(engaged_bot, f"/api/notifications/{notification}/recipients.csv?read=true")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["recipient"], r["state"], bool(r["readAt"]), r["clickedAt"]) for r in rows] == [
        (f"user:{BEN}", "sent", True, "")
    ]


async def test_another_caller_cannot_export_a_notification(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot)
    response = await engaged_bot.session.get(f"{engaged_bot.url}/api/notifications/{notification}/recipients.csv")
    assert response.status == 401


async def test_the_status_can_leave_engagement_out(engaged_bot: LiveBot) -> None:
    notification = await _send(engaged_bot)
    body = await (await _get(engaged_bot, f"/api/notifications/{notification}?engagement=false")).json()
    assert "engagement" not in body and body["totals"]["sent"] == 1
