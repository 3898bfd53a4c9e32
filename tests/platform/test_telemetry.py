"""Telemetry: traces of turns and deliveries reach an OTLP collector with their parent/child links; ``/metrics``
shows the counters moving and is served to this machine or to an API key only."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bot.platform.identity.credentials import credential_from_settings
from bot.platform.messaging.ledger import OutreachLedger
from bot.platform.server import SERVICES_KEY, create_app
from bot.platform.services import Services
from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from tests.support.clock import FakeClock
from tests.support.live import APP_ID, SECRET, TENANT, LiveBot, bot_settings, serve
from tests.support.probe import Probe
from tests.support.turns import activity

API_KEY = "metrics-reader-key-0123456789abcdef"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Telemetry"}]}
USER = "aaaaaaaa-1111-2222-3333-444444444444"


@dataclass
class Collector:
    """A tiny OTLP/HTTP collector: it keeps the spans posted to ``/v1/traces`` (protobuf)."""

    url: str = ""
    spans: list[Span] = field(default_factory=list)

    async def traces(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        for resource in export.resource_spans:
            for scope in resource.scope_spans:
                self.spans.extend(scope.spans)
        return web.Response(content_type="application/x-protobuf")

    def named(self, name: str) -> list[Span]:
        return [s for s in self.spans if s.name == name]


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    found = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", found.traces)
    app.router.add_post("/v1/metrics", _accepted)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    found.url = str(server.make_url("")).rstrip("/")
    yield found
    await server.close()


async def _accepted(_request: web.Request) -> web.Response:
    return web.Response(content_type="application/x-protobuf")


@pytest.fixture
def settings(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, connector: ConnectorEmulator
) -> Settings:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET)
    return dataclasses.replace(
        bot_settings(tmp_path, bf_channel, entra, connector),
        api_key_hashes=frozenset({hashlib.sha256(API_KEY.encode()).hexdigest()}),
    )


@pytest.fixture
async def traced_bot(
    settings: Settings, collector: Collector, bf_channel: BotFrameworkChannelEmulator, connector: ConnectorEmulator
) -> AsyncIterator[LiveBot]:
    traced = dataclasses.replace(settings, otel_exporter_otlp_endpoint=collector.url)
    async with serve(traced, features=(Probe,)) as (url, services), aiohttp.ClientSession() as session:
        yield LiveBot(url, session, traced, bf_channel, connector, services)


async def _notify(services: Services, clock: FakeClock | None = None) -> None:
    """One notification to one user, queued in the ledger as the notifications API would."""
    assert services.outbox is not None
    now = (clock or services.clock)()
    await OutreachLedger(services.store.db).create_notification(
        tenant_id=TENANT,
        sender="api:test",
        idempotency_key="telemetry",
        card=CARD,
        ack_required=False,
        send_at=now,
        now=now,
        recipients=[(f"user:{USER}", {"userId": USER})],
    )
    services.outbox.wake()


async def _flush(services: Services | None) -> None:
    assert services is not None
    await asyncio.to_thread(services.telemetry.flush)


async def test_a_turn_is_traced_with_its_handler_as_a_child(traced_bot: LiveBot, collector: Collector) -> None:
    response = await traced_bot.post(activity(text="ping", serviceUrl=traced_bot.connector.url), traced_bot.token())
    assert response.status == 200
    await _flush(traced_bot.services)
    (turn,) = collector.named("teams turn")
    (handler,) = collector.named("handler")
    assert handler.parent_span_id == turn.span_id and handler.trace_id == turn.trace_id
    attributes = {a.key: a.value.string_value for a in turn.attributes}
    assert attributes == {"activity.type": "message", "channel": "msteams"}  # ids and types, never the text


async def test_a_delivery_is_traced_with_its_connector_calls_as_children(
    traced_bot: LiveBot, collector: Collector
) -> None:
    assert traced_bot.services is not None
    await _notify(traced_bot.services)
    await traced_bot.connector.wait_for_async(lambda recorded: len(recorded) >= 1)
    async with asyncio.timeout(5):  # the delivery's span ends right after the send's answer is recorded
        while not collector.named("outbox deliver"):
            await _flush(traced_bot.services)
    (deliver,) = collector.named("outbox deliver")
    calls = [s for s in collector.spans if s.name.startswith("connector ")]
    assert {s.name for s in calls} == {"connector create_conversation", "connector post"}
    assert all(s.parent_span_id == deliver.span_id and s.trace_id == deliver.trace_id for s in calls)
    assert {a.key: a.value.string_value for a in deliver.attributes}["delivery.state"] == "sent"


async def test_a_notification_queued_in_a_turn_is_delivered_in_the_turns_trace(
    traced_bot: LiveBot, collector: Collector
) -> None:
    message = activity(text="probe notify", serviceUrl=traced_bot.connector.url)
    assert (await traced_bot.post(message, traced_bot.token())).status == 200
    await traced_bot.connector.wait_for_async(lambda recorded: any(r.kind == "send" for r in recorded))
    async with asyncio.timeout(5):
        while not collector.named("outbox deliver"):
            await _flush(traced_bot.services)
    (turn,), (handler,), (deliver,) = (collector.named(n) for n in ("teams turn", "handler", "outbox deliver"))
    (send,) = collector.named("connector post")
    # turn -> handler -> (the queue) -> delivery -> connector: one trace, each the parent of the next
    assert [handler.parent_span_id, deliver.parent_span_id, send.parent_span_id] == [
        turn.span_id,
        handler.span_id,
        deliver.span_id,
    ]
    assert {s.trace_id for s in (turn, handler, deliver, send)} == {turn.trace_id}


async def _metrics(bot: LiveBot, url: str | None = None, **headers: str) -> tuple[int, str]:
    async with bot.session.get(f"{url or bot.url}/metrics", headers=headers) as response:
        return response.status, await response.text()


async def test_metrics_count_a_delivery_after_it_is_sent(live_bot: LiveBot, clock: FakeClock) -> None:
    assert live_bot.services is not None
    await _notify(live_bot.services, clock)
    await live_bot.connector.wait_for_async(lambda recorded: len(recorded) >= 1)
    async with asyncio.timeout(5):  # counted once the "sent" mark is written, just after the connector's answer
        while True:
            status, text = await _metrics(live_bot)
            if 'courier_deliveries_total{state="sent",reason=""} 1' in text:
                break
            await asyncio.sleep(0.01)
    assert status == 200
    assert 'courier_connector_calls_total{operation="post",status="200"} 1' in text
    assert 'courier_connector_calls_total{operation="create_conversation",status="200"} 1' in text
    assert "courier_queue_depth 0" in text and 'courier_worker_up{worker="outbox-0"} 1' in text


async def test_metrics_through_a_proxy_need_an_api_key(live_bot: LiveBot) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7"}  # a reverse proxy on this machine connects from loopback too
    assert (await _metrics(live_bot, **forwarded))[0] == 401
    assert (await _metrics(live_bot, **forwarded, Authorization="Bearer a-wrong-key-of-sufficient-length"))[0] == 403


async def test_metrics_answer_an_api_key_through_a_proxy(settings: Settings) -> None:
    async with serve(settings, features=(Probe,)) as (url, _), aiohttp.ClientSession() as session:
        headers = {"X-Forwarded-For": "203.0.113.7", "Authorization": f"Bearer {API_KEY}"}
        async with session.get(f"{url}/metrics", headers=headers) as response:
            assert response.status == 200 and "# TYPE courier_worker_up gauge" in await response.text()


def _machine_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


@pytest.fixture
def machine_address() -> Iterator[str]:
    address = _machine_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to be asked from")
    yield address


async def test_metrics_asked_from_another_address_without_a_key_are_refused(
    settings: Settings, machine_address: str
) -> None:
    app = await create_app(settings, features=(Probe,), credential=credential_from_settings(settings))
    server = TestServer(app, host=machine_address)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{machine_address}:{server.port}/metrics") as refused:
                assert refused.status == 401
            headers = {"Authorization": f"Bearer {API_KEY}"}
            async with session.get(f"http://{machine_address}:{server.port}/metrics", headers=headers) as allowed:
                assert allowed.status == 200
        assert app[SERVICES_KEY].telemetry.enabled
    finally:
        await server.close()
