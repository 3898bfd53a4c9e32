"""``/api/graph/notifications`` is unauthenticated by nature: bad or oversized bodies are refused cheaply (a 4xx,
nothing queued), and only items whose ``clientState`` matches a subscription Courier holds cause any work."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.features.meetings.store import OWNERS, SUBSCRIPTIONS, CalendarSubscription
from bot.features.meetings.sync import MAX_NOTIFICATIONS, REFRESH
from bot.sandbox.emulators.entra_delegated import DelegatedState
from tests.features.meetings.rig import MeetingBot
from tests.support.live import TENANT
from tests.support.signin import USER_OID


async def _post(bot: MeetingBot, data: bytes) -> aiohttp.ClientResponse:
    url = f"{bot.url}/api/graph/notifications"
    async with bot.session.post(url, data=data, headers={"Content-Type": "application/json"}) as response:
        await response.read()
        return response


async def _meeting_and_item(bot: MeetingBot, users: DelegatedState) -> tuple[str, dict[str, Any]]:
    """A meeting's id, and a genuine notification that it was deleted (Graph's clientState included)."""
    await bot.install()
    await bot.meeting(users, f"schedule Retro on {bot.day(1):%B %d} at 10:00")
    (subscription,) = bot.calendar.subscriptions.values()
    (event_id,) = bot.calendar.events
    (meeting,) = await bot.deps.store.upcoming(TENANT, USER_OID, bot.clock())
    item = {
        "subscriptionId": subscription.id,
        "clientState": subscription.client_state,
        "changeType": "deleted",
        "resourceData": {"id": event_id},
    }
    return meeting.id, item


async def test_an_870_kb_body_of_30000_items_is_refused_and_nothing_is_queued(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id, item = await _meeting_and_item(meeting_bot, entra_users)
    body = '{"value": [' + ",".join(['{"subscriptionId": "s-0000000000", "clientState": "x"}'] * 30_000) + "]}"
    assert len(body) > 850_000
    response = await _post(meeting_bot, body.replace('"s-0000000000"', f'"{item["subscriptionId"]}"', 1).encode())
    assert response.status == 413
    assert await meeting_bot.platform.jobs.get(REFRESH, meeting_id) is None


async def test_more_than_the_item_cap_in_a_small_body_is_refused_and_nothing_is_queued(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id, item = await _meeting_and_item(meeting_bot, entra_users)
    body = '{"value": [' + ",".join([json.dumps(item)] + ["{}"] * MAX_NOTIFICATIONS) + "]}"
    response = await _post(meeting_bot, body.encode())
    assert response.status == 413
    assert await meeting_bot.platform.jobs.get(REFRESH, meeting_id) is None


async def test_a_genuine_item_among_forged_ones_is_the_only_one_acted_on(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id, item = await _meeting_and_item(meeting_bot, entra_users)
    forged = [{**item, "clientState": "guess"}, {**item, "subscriptionId": "unknown"}, 5, {"subscriptionId": 7}]
    response = await _post(meeting_bot, json.dumps({"value": [*forged, item]}).encode())
    assert response.status == 202
    job = await meeting_bot.platform.jobs.get(REFRESH, meeting_id)
    assert job is not None and job.payload == {"deleted": True}


async def test_value_that_is_not_a_list_is_a_bad_request(meeting_bot: MeetingBot) -> None:
    response = await _post(meeting_bot, b'{"value": 5}')
    assert response.status == 400


async def test_json_nested_50000_levels_is_a_bad_request(meeting_bot: MeetingBot) -> None:
    response = await _post(meeting_bot, b'{"value": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    assert response.status == 400


async def test_a_nul_character_is_a_bad_request(meeting_bot: MeetingBot) -> None:
    response = await _post(meeting_bot, b'{"value": [{"subscriptionId": "a\\u0000b", "clientState": "x"}]}')
    assert response.status == 400


async def test_owners_recorded_before_their_client_state_was_kept_with_them_are_still_found(
    meeting_bot: MeetingBot,
) -> None:
    store = meeting_bot.platform.store
    expires = datetime(2026, 3, 12, tzinfo=UTC)
    record = {"id": "sub-old", "client_state": "secret", "expires": expires.isoformat()}
    await store.put_value(SUBSCRIPTIONS, "user-key", record)
    await store.put_value(OWNERS, "sub-old", "user-key")  # the layout before
    owners = await meeting_bot.deps.store.subscription_owners(["sub-old", "sub-unknown"])
    assert owners == {"sub-old": ("user-key", CalendarSubscription("sub-old", "secret", expires))}
