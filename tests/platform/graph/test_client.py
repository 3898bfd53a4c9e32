"""The Graph client against the Graph emulator over HTTPS: retries, limits, paging, batching, typed errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.platform.graph import (
    BatchRequest,
    GraphCaller,
    GraphClient,
    GraphUnavailable,
    NotFound,
    PermissionDenied,
    Throttled,
)
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.settings import Settings
from bot.platform.telemetry import Telemetry
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.tls import TestCA

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-00000000a9a9"
ALL_ROLES = ("User.Read.All", "GroupMember.Read.All")
CONSENT = f"https://courier.contoso.com/admin/consent?tenant={TENANT}"


class FakeTimer:
    """The client's monotonic clock and sleep: records the sleeps it asks for and moves on instead of waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def client(graph: GraphEmulator, test_ca: TestCA) -> AsyncIterator[GraphClient]:
    made = GraphClient(
        graph.url, consent_url=lambda tenant: CONSENT, ssl_context=test_ca.client_ssl_context(), max_attempts=3
    )
    yield made
    await made.close()


def _caller(client: GraphClient, entra: EntraEmulator, roles: tuple[str, ...] = ALL_ROLES) -> GraphCaller:
    entra.register_app(APP_ID, tenant=TENANT, secret="s", roles={"https://graph.microsoft.com": roles})
    settings = Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    return client.app(MsalAppCredential(settings), TENANT)


def _people(graph: GraphEmulator, count: int) -> list[str]:
    ids = [f"{n:08d}-0000-0000-0000-000000000000" for n in range(count)]
    for n, oid in enumerate(ids):
        graph.add_user(oid, f"user{n}@contoso.com", f"User {n}")
    return ids


async def test_a_user_is_read_with_an_app_token(
    client: GraphClient, entra: EntraEmulator, graph: GraphEmulator
) -> None:
    _people(graph, 1)
    user = await _caller(client, entra).get("/users/user0@contoso.com")
    assert user["displayName"] == "User 0"


async def test_the_app_token_is_reused_across_calls(
    client: GraphClient, entra: EntraEmulator, graph: GraphEmulator
) -> None:
    _people(graph, 1)
    caller = _caller(client, entra)
    before = entra.token_requests(APP_ID)
    for _ in range(3):
        await caller.get("/users/user0@contoso.com")
    assert entra.token_requests(APP_ID) - before <= 1


async def test_paging_follows_next_links_across_pages(
    client: GraphClient, entra: EntraEmulator, graph: GraphEmulator
) -> None:
    ids = _people(graph, 7)
    graph.add_group("g1", ids)
    seen = [m["id"] async for m in _caller(client, entra).paged("/groups/g1/transitiveMembers")]
    assert seen == ids
    assert graph.requests_to("/v1.0/groups/g1") == 4


async def test_batch_sends_twenty_requests_per_post(
    client: GraphClient, entra: EntraEmulator, graph: GraphEmulator
) -> None:
    ids = _people(graph, 25)
    responses = await _caller(client, entra).batch(
        [BatchRequest(id=str(n), method="GET", url=f"/users/{oid}") for n, oid in enumerate(ids)]
    )
    assert [r.id for r in responses] == [str(n) for n in range(25)]
    assert all(r.status == 200 for r in responses)
    assert graph.requests_to("/v1.0/$batch") == 2


async def test_a_429_is_retried_after_its_retry_after(
    entra: EntraEmulator, graph: GraphEmulator, test_ca: TestCA
) -> None:
    _people(graph, 1)
    timer = FakeTimer()
    client = GraphClient(
        graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=3, sleep=timer, clock=timer.time
    )
    try:
        graph.inject(429, retry_after=7)
        user = await _caller(client, entra).get("/users/user0@contoso.com")
        assert user["id"]
        assert timer.sleeps[0] == 7
    finally:
        await client.close()


async def test_throttled_after_every_attempt(entra: EntraEmulator, graph: GraphEmulator, test_ca: TestCA) -> None:
    timer = FakeTimer()
    client = GraphClient(
        graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=3, sleep=timer, clock=timer.time
    )
    try:
        graph.inject(429, count=3, retry_after=120)
        with pytest.raises(Throttled) as caught:
            await _caller(client, entra).get("/users/x")
        assert caught.value.retry_after == 120
        assert 120 in timer.sleeps
    finally:
        await client.close()


async def test_a_503_becomes_graph_unavailable_after_retries(
    entra: EntraEmulator, graph: GraphEmulator, test_ca: TestCA
) -> None:
    timer = FakeTimer()
    client = GraphClient(
        graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=3, sleep=timer, clock=timer.time
    )
    try:
        graph.inject(503, count=3)
        with pytest.raises(GraphUnavailable):
            await _caller(client, entra).get("/users/x")
    finally:
        await client.close()


async def test_a_missing_role_is_permission_denied_with_the_consent_link(
    client: GraphClient, entra: EntraEmulator, graph: GraphEmulator
) -> None:
    graph.add_group("g1", [])
    with pytest.raises(PermissionDenied) as caught:
        await _caller(client, entra, roles=("User.Read.All",)).get(
            "/groups/g1/transitiveMembers", permission="GroupMember.Read.All"
        )
    assert caught.value.permission == "GroupMember.Read.All"
    assert caught.value.consent_url == CONSENT


async def test_an_unknown_user_is_not_found(client: GraphClient, entra: EntraEmulator, graph: GraphEmulator) -> None:
    with pytest.raises(NotFound):
        await _caller(client, entra).get("/users/nobody@contoso.com")


async def test_a_429_pauses_every_caller_of_the_tenant(
    entra: EntraEmulator, graph: GraphEmulator, test_ca: TestCA
) -> None:
    _people(graph, 1)
    sleeps: list[float] = []
    first_throttled = asyncio.Event()

    async def sleep(seconds: float) -> None:  # real waits, observed
        sleeps.append(seconds)
        first_throttled.set()
        await asyncio.sleep(seconds)

    client = GraphClient(graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=3, sleep=sleep)
    try:
        caller = _caller(client, entra)
        await caller.get("/users/user0@contoso.com")  # token warm
        graph.inject(429, retry_after=1)
        first = asyncio.create_task(caller.get("/users/user0@contoso.com"))
        await first_throttled.wait()  # the first call got its 429: the tenant is paused
        started = time.monotonic()
        await caller.get("/users/user0@contoso.com")
        waited = time.monotonic() - started
        await first
        assert sleeps[0] == 1  # the first caller waits out its Retry-After
        assert len(sleeps) == 2 and sleeps[1] > 0.5  # and so does the second, which got no 429 itself
        assert waited >= 0.5
    finally:
        await client.close()


async def test_an_expired_delegated_token_is_retried_once_with_a_fresh_one(
    client: GraphClient, entra: EntraEmulator, graph: GraphEmulator
) -> None:
    tokens = iter(
        [
            entra.issue_token(
                audience="https://graph.microsoft.com", tenant=TENANT, client_id=APP_ID, expires_in=-60, scp="User.Read"
            ),
            entra.issue_token(
                audience="https://graph.microsoft.com",
                tenant=TENANT,
                client_id=APP_ID,
                expires_in=600,
                scp="User.Read",
                oid="me-1",
            ),
        ]
    )

    async def provider() -> str:
        return next(tokens)

    me = await client.with_token(provider, TENANT).get("/me")
    assert me["id"] == "me-1"


async def test_graph_calls_and_429s_are_counted_by_status(
    entra: EntraEmulator, graph: GraphEmulator, test_ca: TestCA
) -> None:
    _people(graph, 1)
    timer, telemetry = FakeTimer(), Telemetry()
    client = GraphClient(
        graph.url,
        ssl_context=test_ca.client_ssl_context(),
        max_attempts=3,
        sleep=timer,
        clock=timer.time,
        telemetry=telemetry,
    )
    try:
        graph.inject(429, retry_after=1)
        await _caller(client, entra).get("/users/user0@contoso.com")
    finally:
        await client.close()
    text = telemetry.prometheus()
    assert 'courier_graph_calls_total{method="GET",status="429"} 1' in text
    assert 'courier_graph_calls_total{method="GET",status="200"} 1' in text
    assert 'courier_throttled_total{service="graph"} 1' in text
