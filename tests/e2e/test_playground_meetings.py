"""Scheduling a meeting in the Agents Playground, signed in for real: Courier runs with an app id against the
project's Entra (delegated sign-in) and Graph (calendar) emulators, and accepts the Playground's token-less requests
through ``COURIER_DANGEROUSLY_SKIP_INBOUND_AUTH`` (the Playground sends no Bot Framework token)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_calendar import CalendarState, install_calendar
from bot.sandbox.emulators.tls import TestCA
from scripts.playground import missing_reason
from tests.e2e.playground import PlaygroundHarness, card_of, reply, start_harness
from tests.support.cards import card_texts

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

APP_ID = "00000000-0000-0000-0000-00000000e2e1"
APP_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "e2e-app-secret"
PLAYGROUND_TENANT = "00000000-0000-0000-0000-0000000000001"  # what the Playground puts in its activities
PLAYGROUND_USER = "00000000-0000-0000-0000-0000000000020"


class SignedInPlayground:
    def __init__(self, harness: PlaygroundHarness, calendar: CalendarState, users: DelegatedState) -> None:
        self.harness = harness
        self.calendar = calendar
        self.users = users


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def signed_in_playground(
    test_ca: TestCA, entra_with_delegated: tuple[EntraEmulator, DelegatedState]
) -> AsyncIterator[SignedInPlayground]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"END-TO-END TESTS DID NOT RUN: {reason}")
    entra, users = entra_with_delegated
    entra.register_app(APP_ID, tenant=APP_TENANT, secret=SECRET)
    entra.tenants.add(PLAYGROUND_TENANT)
    graph = GraphEmulator(entra, test_ca.server_ssl_context())
    calendar = install_calendar(graph)
    graph.start()
    ca = str(test_ca.ca_bundle_path)

    def settings(port: int) -> dict[str, str]:
        return {
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": SECRET,
            "MicrosoftAppTenantId": APP_TENANT,
            "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "0",
            "COURIER_DANGEROUSLY_SKIP_INBOUND_AUTH": "1",
            "COURIER_LOGIN_AUTHORITY_HOST": entra.url,
            "COURIER_GRAPH_BASE_URL": graph.url,
            "COURIER_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "COURIER_ENCRYPTION_KEY": "e2e-encryption-key-" + "x" * 24,
            "COURIER_CA_BUNDLE": ca,
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
        }

    workdir = Path(tempfile.mkdtemp(prefix="courier-e2e-signed-in-"))
    harness = await start_harness(workdir, extra_env=settings)
    try:
        yield SignedInPlayground(harness, calendar, users)
    finally:
        await harness.close()
        graph.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def browse_sign_in(url: str, test_ca: TestCA) -> int:
    """A person's browser: Courier's start link -> Entra's sign-in -> Courier's callback."""
    connector = aiohttp.TCPConnector(ssl=test_ca.client_ssl_context())
    async with aiohttp.ClientSession(connector=connector) as browser:
        start = await browser.get(url, allow_redirects=False)
        authorize = await browser.get(start.headers["Location"], allow_redirects=False)
        callback = await browser.get(authorize.headers["Location"], allow_redirects=False)
        return callback.status


def open_url(card: dict[str, Any] | None) -> str:
    assert card is not None
    return str(next(a for a in card.get("actions", []) if a.get("type") == "Action.OpenUrl")["url"])


async def test_schedule_sign_in_resume_and_cancel_through_the_playground(
    signed_in_playground: SignedInPlayground, test_ca: TestCA
) -> None:
    world = signed_in_playground
    playground = world.harness
    chat = playground.personal_chat
    await playground.install(chat)
    await playground.next_message(reply(chat, containing="I'm Courier"))

    await playground.send(chat, "schedule Retro tomorrow at 10:00")
    asked = await playground.next_message(reply(chat, containing="Sign in"))

    world.users.signed_in_user = EntraUser(oid=PLAYGROUND_USER, name="Playground User", upn="user@contoso.com")
    assert await browse_sign_in(open_url(card_of(asked)), test_ca) == 200
    await playground.next_message(reply(chat, containing="Finish scheduling"))

    resumed = await playground.invoke_card_action(chat, "meeting.resume")
    assert resumed.status == 200, resumed.body
    meeting = await playground.next_message(reply(chat, containing="Join the Teams meeting"))
    assert "Retro" in " ".join(card_texts(card_of(meeting)))
    assert len(world.calendar.events) == 1

    cancelled = await playground.invoke_card_action(chat, "meeting.cancel")
    assert cancelled.status == 200, cancelled.body
    assert "Cancelled; attendees were notified." in " ".join(card_texts(cancelled.body["value"]))
    assert world.calendar.events == {}
