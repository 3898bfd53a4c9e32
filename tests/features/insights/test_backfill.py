"""Reading a channel's history from the Graph emulator: paging, long threads, 4 requests/s, resume after a stop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.features.insights import Insights
from bot.features.insights.backfill import Backfill
from bot.features.insights.store import InsightsStore
from bot.platform.graph import GraphClient
from bot.platform.graph.errors import GraphError
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.settings import Settings
from bot.platform.storage import SqlStore, open_store
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_channels import ChannelsState, install_channels, message
from bot.sandbox.emulators.tls import TestCA
from tests.support.clock import DEFAULT_NOW

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000b0f11"
TEAM, CHANNEL = "19:team@thread.tacv2", "19:eng@thread.tacv2"
T0 = DEFAULT_NOW - timedelta(days=30)  # history: messages a month before the (fake) present


@pytest.fixture
def channels_graph(entra: EntraEmulator, test_ca: TestCA) -> Iterator[tuple[GraphEmulator, ChannelsState]]:
    emulator = GraphEmulator(entra, test_ca.server_ssl_context())
    state = install_channels(emulator)
    emulator.start()
    yield emulator, state
    emulator.stop()


@pytest.fixture
async def backfill(
    tmp_path: Path, entra: EntraEmulator, test_ca: TestCA, channels_graph: tuple[GraphEmulator, ChannelsState]
) -> AsyncIterator[tuple[Backfill, SqlStore, ChannelsState, GraphEmulator]]:
    graph, state = channels_graph
    entra.register_app(
        APP_ID, tenant=TENANT, secret="s", roles={"https://graph.microsoft.com": ("ChannelMessage.Read.Group",)}
    )
    credential = MsalAppCredential(
        Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    )
    client = GraphClient(graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=2)
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}", migrations=(Insights.migrations,))
    yield Backfill(store, client, credential, rps=4.0), store, state, graph
    await client.close()
    await store.close()


def seed(state: ChannelsState, threads: int, replies: int) -> None:
    for t in range(threads):
        at = T0 + timedelta(hours=t)
        root = message(
            f"r{t}", f"user-{t % 7}", f"User {t % 7}", at, "Can someone review this?" if t % 2 else "Shipped"
        )
        state.add_thread(
            CHANNEL,
            root,
            [
                message(f"r{t}-{n}", f"user-{n % 5}", f"User {n % 5}", at + timedelta(minutes=n + 1), "ok", f"r{t}")
                for n in range(replies)
            ],
        )


async def stored(store: SqlStore) -> int:
    return await InsightsStore(store).count()


async def test_every_page_and_every_reply_is_stored(
    backfill: tuple[Backfill, SqlStore, ChannelsState, GraphEmulator],
) -> None:
    job, store, state, _ = backfill
    seed(state, threads=120, replies=3)  # three pages of 50 roots, replies inline
    assert await job.run(TENANT, TEAM, CHANNEL) == 480
    assert await stored(store) == 480
    assert state.throttled == 0  # paced under 4 requests/s: Graph never had to say 429


async def test_a_thread_longer_than_the_inline_replies_is_read_through_its_link(
    backfill: tuple[Backfill, SqlStore, ChannelsState, GraphEmulator],
) -> None:
    job, _, state, _ = backfill
    state.inline_replies = 20  # Graph inlines up to 1,000; a smaller cut keeps the test quick
    seed(state, threads=1, replies=75)
    assert await job.run(TENANT, TEAM, CHANNEL) == 76


async def test_a_stopped_backfill_resumes_from_its_last_page(
    backfill: tuple[Backfill, SqlStore, ChannelsState, GraphEmulator],
) -> None:
    job, store, state, graph = backfill
    seed(state, threads=120, replies=1)
    progress: list[int] = []

    async def stop_after_first_page(count: int, done: bool) -> None:
        progress.append(count)
        if len(progress) == 1:
            graph.inject(503, count=2)  # Graph is unavailable for both attempts at the second page

    with pytest.raises(GraphError):
        await job.run(TENANT, TEAM, CHANNEL, progress=stop_after_first_page)
    assert await stored(store) == 100
    first_run = state.requests
    assert await job.run(TENANT, TEAM, CHANNEL) == 240
    assert state.requests - first_run == 2  # pages two and three only
    assert await stored(store) == 240
    assert await job.unfinished() == []
