"""Local mode as ``scripts/run-local`` builds it: Courier against the local Microsoft 365 (``bot/sandbox``), the
Agents Playground presenting the sandbox's people and team, and the Playground's mock connector as Courier's Bot
Connector. Before the sandbox, whatever Courier started itself (a send to someone without a stored chat) went to the
public cloud's connector and never arrived."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from bot.sandbox.relay import ConnectorRelay, Delivery
from bot.sandbox.tenant import PEOPLE, TENANT_ID, LocalTenant
from scripts.playground import missing_reason
from tests.e2e.playground import PlaygroundHarness, card_actions, card_of, free_port, reply, start_harness, visible_text

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

YOU, MEGAN = PEOPLE[0], PEOPLE[1]


class LocalMode:
    def __init__(self, harness: PlaygroundHarness, tenant: LocalTenant, relay: ConnectorRelay) -> None:
        self.harness = harness
        self.tenant = tenant
        self.relay = relay
        self.delivered = asyncio.Queue[Delivery]()

    async def notify(self, user_id: str, title: str) -> int:
        body = {
            "idempotencyKey": title,
            "recipients": [{"userId": user_id}],
            "tenantId": TENANT_ID,
            "template": "announcement",
            "data": {"title": title, "text": "Sent through the API"},
        }
        headers = {"Authorization": f"Bearer {self.tenant.secrets.api_key}"}
        url = f"{self.harness.bot.url}/api/notifications"
        async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as response:
            return response.status


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def local_mode() -> AsyncIterator[LocalMode]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"END-TO-END TESTS DID NOT RUN: {reason}")
    workdir = Path(tempfile.mkdtemp(prefix="courier-e2e-sandbox-"))
    tenant = LocalTenant(workdir / "sandbox")
    tenant.start()
    (workdir / "playground").mkdir()
    (workdir / "playground" / ".m365agentsplayground.yml").write_text(json.dumps(tenant.playground_config()))
    playground_port = free_port()
    loop = asyncio.get_running_loop()
    deliveries = asyncio.Queue[Delivery]()

    def delivered(delivery: Delivery) -> None:  # called on the relay's thread
        loop.call_soon_threadsafe(deliveries.put_nowait, delivery)

    relay = ConnectorRelay(
        f"http://127.0.0.1:{playground_port}/_connector", {p.oid: p.name for p in PEOPLE}, on_delivery=delivered
    )
    relay.start()

    def settings(port: int) -> dict[str, str]:
        return {
            **tenant.courier_settings(f"http://127.0.0.1:{port}", connector_url=relay.url),
            "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "0",
        }

    try:
        harness = await start_harness(workdir, extra_env=settings, playground_port=playground_port)
    except BaseException:
        relay.stop()
        tenant.stop()
        raise
    try:
        mode = LocalMode(harness, tenant, relay)
        mode.delivered = deliveries
        yield mode
    finally:
        await harness.close()
        relay.stop()
        tenant.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_the_playground_speaks_as_the_sandbox_people_in_its_tenant(local_mode: LocalMode) -> None:
    config = local_mode.harness.config
    assert config["tenantId"] == TENANT_ID
    assert config["currentUser"]["aadObjectId"] == YOU.oid
    assert {u["name"] for u in config["users"]} == {p.name for p in PEOPLE[1:]}


async def test_an_api_announcement_arrives_in_your_chat(local_mode: LocalMode) -> None:
    playground = local_mode.harness
    chat = playground.personal_chat
    await playground.install(chat)
    await playground.next_message(reply(chat, containing="I'm Courier"))

    assert await local_mode.notify(YOU.oid, "Quarterly update") == 202
    await playground.next_message(reply(chat, containing="Quarterly update"))


async def test_an_api_announcement_reaches_a_colleague_through_the_playgrounds_connector(
    local_mode: LocalMode,
) -> None:
    assert await local_mode.notify(MEGAN.oid, "Welcome aboard") == 202
    async with asyncio.timeout(10):
        delivery = await local_mode.delivered.get()
    assert (delivery.person, "Welcome aboard" in delivery.text) == (MEGAN.name, True)


async def test_insights_backfill_the_sample_history(local_mode: LocalMode) -> None:
    playground = local_mode.harness
    general = playground.channel("General")
    await playground.install(playground.team_id)
    read = await playground.next_message(reply(containing="Channel history read"), timeout=15)
    assert read["actionConversationId"].startswith(general)
    sent = await playground.send(general, "insights", mention_bot=True)
    await playground.next_message(reply(sent.conversation_id, containing="active members"))


async def sign_in_on_the_page(start_url: str, who: str) -> str:
    """A person's browser: Courier's start link -> the sandbox's sign-in page (plain HTTP) -> pick -> Courier."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(start_url) as page:
            assert who in await page.text()
            action = str(page.url)
        async with browser.post(action, data={"login": who}) as done:
            return await done.text()


async def test_sign_in_then_schedule_with_a_mentioned_colleague_and_cancel(local_mode: LocalMode) -> None:
    playground, calendar = local_mode.harness, local_mode.tenant.calendar
    assert calendar is not None
    chat = playground.personal_chat
    await playground.send(chat, "signin")
    card = card_of(await playground.next_message(reply(chat, containing="Sign in with Microsoft")))
    assert card is not None
    link = next(a["url"] for a in card.get("actions", []) if a.get("type") == "Action.OpenUrl")
    assert "signed in" in await sign_in_on_the_page(link, YOU.upn)

    group = playground.group_chat
    await playground.install(group)
    await playground.next_message(reply(group, containing="I'm Courier"))
    await playground.send(
        group,
        f"schedule Design review with @{MEGAN.name} tomorrow afternoon for 30m",
        mention_bot=True,
        mention=[MEGAN.name],
    )
    offered = await playground.next_message(reply(group, containing="Design review"))
    assert MEGAN.upn in visible_text(offered)
    picked = await playground.invoke_card_action(group, "meeting.pick")
    assert picked.status == 200, picked.body
    (event,) = calendar.events.values()
    assert event["subject"] == "Design review"
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == [MEGAN.upn]

    # The pick replaced the card in place with the meeting's card; its Cancel is clicked on the same message.
    cancel = next(a for a in card_actions(picked.body["value"]) if a.get("verb") == "meeting.cancel")
    message_id = str(offered["message"]["messageId"])
    cancelled = await playground.invoke_card_action(
        group, "meeting.cancel", cancel.get("data") or {}, activity_id=message_id
    )
    assert cancelled.status == 200, cancelled.body
    assert calendar.events == {}
