"""Meeting cards follow the calendar: Graph's change notifications (a subscription per organizer, renewed before it
expires), and a reconcile every ten minutes for the notifications that never come. Renewals, reconciles and the
refreshes notifications ask for are jobs of the platform's scheduler."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.features.meetings.store import SCHEDULED
from bot.features.meetings.sync import RECONCILE, RECONCILE_KEY, REFRESH, RENEW
from bot.platform.jobs import Job
from bot.sandbox.emulators.entra_delegated import DelegatedState
from tests.features.meetings.rig import ORGANIZER, MeetingBot, at
from tests.support.live import TENANT
from tests.support.signin import USER_OID


async def _installed_meeting(bot: MeetingBot, users: DelegatedState, *, days: int = 1) -> str:
    await bot.install()
    return await bot.meeting(users, f"schedule Retro on {bot.day(days):%B %d} at 10:00")


async def _renewal(bot: MeetingBot) -> Job:
    job = await bot.platform.jobs.get(RENEW, ORGANIZER.key)
    assert job is not None
    return job


async def test_creating_a_meeting_subscribes_to_calendar_changes_with_the_handshake(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    (subscription,) = meeting_bot.calendar.subscriptions.values()
    assert subscription.notification_url.endswith("/api/graph/notifications")
    assert subscription.client_state and subscription.change_type == "updated,deleted"


async def test_the_renewal_is_scheduled_before_the_subscription_expires(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    sync = meeting_bot.deps.sync
    job = await _renewal(meeting_bot)
    assert job.due_at == meeting_bot.clock() + sync.lifetime - sync.renew_before


async def test_a_due_renewal_extends_the_subscription_and_comes_back_before_the_new_expiry(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users, days=5)  # still ahead when the renewal is due
    sync = meeting_bot.deps.sync
    job = await _renewal(meeting_bot)
    now = job.due_at
    meeting_bot.clock.set(now)
    assert await sync.renew(job) == now + sync.lifetime - sync.renew_before
    (subscription,) = meeting_bot.calendar.subscriptions.values()
    assert subscription.expires == (now + sync.lifetime).replace(tzinfo=None)


async def test_renewals_stop_when_the_organizer_has_no_upcoming_meeting(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    meeting_id = await _installed_meeting(meeting_bot, entra_users)
    await meeting_bot.card_answer(meeting_bot.click("meeting.cancel", {"meeting": meeting_id}))
    assert await meeting_bot.deps.sync.renew(await _renewal(meeting_bot)) is None


async def test_creating_a_meeting_starts_the_repeating_reconcile(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    job = await meeting_bot.platform.jobs.get(RECONCILE, RECONCILE_KEY)
    assert job is not None and job.due_at == meeting_bot.clock() + meeting_bot.deps.sync.interval
    assert await meeting_bot.deps.sync.run_reconcile(job) == meeting_bot.clock() + meeting_bot.deps.sync.interval


async def test_a_meeting_moved_in_outlook_redraws_its_card(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    (event_id,) = meeting_bot.calendar.events
    new_start = at(meeting_bot.day(3), 11)
    meeting_bot.calendar.move_outside(event_id, new_start, new_start + timedelta(minutes=30))
    await meeting_bot.connector.wait_for_async(lambda r: any(x.kind == "update" for x in r))
    redrawn = json.dumps(meeting_bot.updates()[-1])
    assert "Moved in Outlook or Teams" in redrawn and "11:00-11:30" in redrawn


async def test_a_meeting_cancelled_in_outlook_shows_as_cancelled(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    (event_id,) = meeting_bot.calendar.events
    meeting_bot.calendar.cancel_outside(event_id)
    await meeting_bot.connector.wait_for_async(lambda r: any(x.kind == "update" for x in r))
    assert "Cancelled in Outlook or Teams" in json.dumps(meeting_bot.updates()[-1])


async def test_a_notification_with_a_wrong_client_state_changes_nothing(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    (subscription,) = meeting_bot.calendar.subscriptions.values()
    (event_id,) = meeting_bot.calendar.events
    forged = {
        "value": [
            {
                "subscriptionId": subscription.id,
                "clientState": "guess",
                "changeType": "deleted",
                "resourceData": {"id": event_id},
            }
        ]
    }
    async with meeting_bot.session.post(f"{meeting_bot.url}/api/graph/notifications", json=forged) as response:
        assert response.status == 202
    (meeting,) = await meeting_bot.deps.store.upcoming(TENANT, USER_OID, meeting_bot.clock())
    assert await meeting_bot.platform.jobs.get(REFRESH, meeting.id) is None  # no refresh was queued
    assert meeting.status == SCHEDULED and meeting_bot.updates() == []


async def test_the_handshake_echoes_graphs_validation_token(meeting_bot: MeetingBot) -> None:
    url = f"{meeting_bot.url}/api/graph/notifications"
    async with meeting_bot.session.post(url, params={"validationToken": "abc 123"}) as response:
        assert response.status == 200 and await response.text() == "abc 123"


async def test_the_reconcile_catches_changes_whose_notification_never_came(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    (event_id,) = meeting_bot.calendar.events
    meeting_bot.calendar.events.pop(event_id)  # deleted, and the notification was lost
    assert await meeting_bot.deps.sync.reconcile() == 1
    assert "Cancelled in Outlook or Teams" in json.dumps(meeting_bot.updates()[-1])


async def test_the_scheduler_runs_the_reconcile_ten_minutes_later(
    meeting_bot: MeetingBot, entra_users: DelegatedState
) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    (event_id,) = meeting_bot.calendar.events
    meeting_bot.calendar.events.pop(event_id)
    meeting_bot.clock.advance(minutes=10)
    meeting_bot.platform.jobs.wake()
    await meeting_bot.connector.wait_for_async(lambda r: any(x.kind == "update" for x in r))
    assert "Cancelled in Outlook or Teams" in json.dumps(meeting_bot.updates()[-1])


async def test_a_revoked_sign_in_leaves_cards_as_they_are(meeting_bot: MeetingBot, entra_users: DelegatedState) -> None:
    await _installed_meeting(meeting_bot, entra_users)
    await meeting_bot.delegated.sign_out(ORGANIZER)
    assert await meeting_bot.deps.sync.reconcile() == 0
