"""Inbound turns under load: Courier next to a bare botbuilder echo bot, same load, same emulators, same run.

    .venv/bin/python bench/turns.py                        # 200 concurrent, 3 rounds of 20 s per bot
    .venv/bin/python bench/turns.py --seconds 8 --rounds 1 # quicker
    .venv/bin/python bench/turns.py --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/turns.py --profile /tmp/courier.prof   # cProfile of Courier's process

Both bots run as processes of their own and authenticate every request for real: channel tokens minted by the Bot
Framework channel emulator (validated against its OpenID metadata and keys), replies sent to the Bot Connector
emulator with a token from the Entra emulator, all over TLS (see bench/rig.py). The load generator keeps
``--concurrency`` requests in flight against one bot at a time, alternating bot each round, so both see the same
machine. The mix, per user in turn: ``help``, ``remind me tomorrow at 9 to ...``, ``reminders`` (messages, answered
with a reply through the connector before the POST returns) and two Action.Execute invokes (``adaptiveCard/action``,
answered with a card in the response). The baseline is botbuilder's own CloudAdapter with an ActivityHandler that
echoes messages and answers invokes with a small card: the floor any Python Teams bot pays for a turn.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import BenchDatabases  # noqa: E402
from bench.rig import (  # noqa: E402
    APP_ID,
    SECRET,
    TENANT,
    Microsoft,
    free_port,
    percentile,
    start_courier,
    start_process,
    start_sampler,
    stop,
    wait_ready,
)

USERS = 2_000
MIX = ("help", "remind", "reminders", "invoke:help", "invoke:reminder.snooze")
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Done"}]}


def user(n: int) -> str:
    return f"{n:08d}-1111-4000-8000-000000000000"


def build_activity(kind: str, n: int, service_url: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"load-{uuid.uuid4().hex}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": "2026-12-07T10:00:00.000Z",
        "from": {"id": f"29:load-{n}", "name": f"User {n}", "aadObjectId": user(n)},
        "recipient": {"id": f"28:{APP_ID}", "name": "Courier"},
        "conversation": {"id": f"a:load-{n:05d}", "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-US",
        "localTimezone": "Europe/Paris",
    }
    if kind.startswith("invoke:"):
        verb = kind.removeprefix("invoke:")
        data.update(
            type="invoke",
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": verb, "data": {"id": uuid.uuid4().hex}},
                "trigger": "manual",
            },
        )
    else:
        text = {"help": "help", "remind": "remind me tomorrow at 9 to send the report", "reminders": "reminders"}
        data.update(type="message", text=text[kind])
    return data


@dataclass
class Phase:
    bot: str
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"message": [], "invoke": []})
    failures: dict[int, int] = field(default_factory=dict)

    @property
    def turns(self) -> int:
        return sum(len(v) for v in self.latencies.values())


async def drive(url: str, phase: Phase, *, service_url: str, token: str, concurrency: int, seconds: float) -> None:
    """``concurrency`` workers post activities back to back for ``seconds``; every answered turn is recorded."""
    counter = itertools.count()
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    timeout = aiohttp.ClientTimeout(total=120)

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            i = next(counter)
            kind = MIX[i % len(MIX)]
            activity = build_activity(kind, (i // len(MIX)) % USERS, service_url)
            started = time.perf_counter()
            try:
                async with session.post(f"{url}/api/messages", json=activity, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 599
            elapsed = time.perf_counter() - started
            if status >= 300:
                phase.failures[status] = phase.failures.get(status, 0) + 1
            else:
                phase.latencies["invoke" if kind.startswith("invoke") else "message"].append(elapsed)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        phase.seconds = time.monotonic() - started


# -- the baseline: a bare botbuilder echo bot --------------------------------------------------------------------
def serve_echo(port: int) -> None:
    """botbuilder's CloudAdapter + an ActivityHandler that echoes, pointed at the emulators (env from the parent)."""
    import os

    import msal
    from aiohttp import web
    from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import AdaptiveCardInvokeResponse
    from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory

    login = os.environ["TO_CHANNEL_FROM_BOT_LOGIN_URL"]

    class MsalCredentials(AppCredentials):  # type: ignore[misc]
        """MSAL with instance discovery off, so it can reach a login host other than Microsoft's."""

        def __init__(self, app_id: str, scope: str) -> None:
            super().__init__(app_id=app_id, channel_auth_tenant=TENANT, oauth_scope=scope)
            self._msal = msal.ConfidentialClientApplication(
                app_id,
                client_credential=os.environ["BENCH_ECHO_SECRET"],
                authority=login,
                instance_discovery=False,
            )

        def get_access_token(self, force_refresh: bool = False) -> str:
            result = self._msal.acquire_token_for_client(scopes=[f"{self.oauth_scope}/.default"])
            return str(result["access_token"])

    class Factory(ServiceClientCredentialsFactory):  # type: ignore[misc]
        def __init__(self) -> None:
            self._credentials: dict[str, MsalCredentials] = {}

        async def is_valid_app_id(self, app_id: str) -> bool:
            return app_id == APP_ID

        async def is_authentication_disabled(self) -> bool:
            return False

        async def create_credentials(
            self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
        ) -> AppCredentials:
            scope = oauth_scope
            if scope not in self._credentials:
                self._credentials[scope] = MsalCredentials(app_id, scope)
            return self._credentials[scope]

    class Config:
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = os.environ["TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL"]
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = os.environ["TO_BOT_FROM_CHANNEL_TOKEN_ISSUER"]
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = (
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
        )
        TO_CHANNEL_FROM_BOT_LOGIN_URL = login
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = "https://api.botframework.com"
        OAUTH_URL = "https://api.botframework.com"
        CHANNEL_SERVICE = ""
        VALIDATE_AUTHORITY = True

    class Echo(ActivityHandler):  # type: ignore[misc]
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))

        async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
            body = AdaptiveCardInvokeResponse(
                status_code=200, type="application/vnd.microsoft.card.adaptive", value=CARD
            )
            return InvokeResponse(status=200, body=body)

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config(), credentials_factory=Factory()))
    bot = Echo()

    async def messages(request: web.Request) -> web.Response:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start_echo(microsoft: Microsoft, log: Path) -> tuple[Any, str]:
    import os

    port = free_port()
    env = dict(os.environ)
    env.update(microsoft.tls_environment())
    env.update(
        {
            "BENCH_ECHO_SECRET": SECRET,
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": microsoft.bf_metadata,
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": microsoft.bf_issuer,
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": f"{microsoft.entra}/{TENANT}",
        }
    )
    process = start_process([sys.executable, str(Path(__file__)), "--serve-echo", str(port)], env, log)
    return process, f"http://127.0.0.1:{port}"


# -- the run ---------------------------------------------------------------------------------------------------
def summary(phases: list[Phase], bot: str) -> dict[str, Any]:
    mine = [p for p in phases if p.bot == bot]
    seconds = sum(p.seconds for p in mine)
    messages = [x for p in mine for x in p.latencies["message"]]
    invokes = [x for p in mine for x in p.latencies["invoke"]]
    failures: dict[int, int] = {}
    for p in mine:
        for status, count in p.failures.items():
            failures[status] = failures.get(status, 0) + count
    return {
        "rate": (len(messages) + len(invokes)) / seconds if seconds else 0.0,
        "rates": [p.turns / p.seconds for p in mine if p.seconds],
        "message": messages,
        "invoke": invokes,
        "failures": failures,
    }


def latency(values: list[float]) -> str:
    if not values:
        return "n/a"
    return " / ".join(f"{percentile(values, q) * 1000:,.0f}" for q in (0.5, 0.9, 0.99)) + " ms"


def report(phases: list[Phase], args: argparse.Namespace, label: str) -> None:
    courier, echo = summary(phases, "courier"), summary(phases, "echo")
    ratio = courier["rate"] / echo["rate"] if echo["rate"] else float("nan")
    invoke_p99 = percentile(courier["invoke"], 0.99)
    print(f"storage              {label}; {args.concurrency} concurrent; {args.rounds} rounds of {args.seconds:.0f} s")
    print(f"{'':20} {'Courier':>28}   {'echo bot (baseline)':>28}")
    for name, key in (("turns/s", "rate"),):
        print(f"{name:20} {courier[key]:>28.1f}   {echo[key]:>28.1f}")
    rounds_c = ", ".join(f"{r:.0f}" for r in courier["rates"])
    rounds_e = ", ".join(f"{r:.0f}" for r in echo["rates"])
    print(f"{'  per round':20} {rounds_c:>28}   {rounds_e:>28}")
    print(f"{'messages p50/90/99':20} {latency(courier['message']):>28}   {latency(echo['message']):>28}")
    print(f"{'invokes p50/90/99':20} {latency(courier['invoke']):>28}   {latency(echo['invoke']):>28}")
    print(
        f"{'turns answered':20} {len(courier['message']) + len(courier['invoke']):>28,}   "
        f"{len(echo['message']) + len(echo['invoke']):>28,}"
    )
    print(f"{'failures':20} {courier['failures']!s:>28}   {echo['failures']!s:>28}")
    print(f"ratio                {ratio:.2f}x the echo bot's throughput (target >= 0.8)")
    print(f"invokes p99          {invoke_p99 * 1000:,.0f} ms (target < 5,000 ms)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of one round against one bot")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per bot, alternating")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--profile", default="", help="run Courier under cProfile, writing to this file")
    parser.add_argument("--py-spy", default="", help="sample Courier with py-spy (collapsed stacks to this file)")
    args = parser.parse_args()

    microsoft = Microsoft()
    databases = BenchDatabases(args.postgres, prefix="courier-bench-turns-")
    logs = Path(tempfile.mkdtemp(prefix="courier-bench-turns-logs-"))
    argv = ("-m", "cProfile", "-o", args.profile) if args.profile else ()
    courier, courier_url = start_courier(microsoft, await databases.fresh(), logs / "courier.log", argv=argv)
    echo, echo_url = start_echo(microsoft, logs / "echo.log")
    spy = None
    try:
        await wait_ready(courier_url, courier)
        await wait_ready(echo_url, echo)
        token = microsoft.token()
        spy = start_sampler(courier.pid, args.py_spy) if args.py_spy else None
        load: dict[str, Any] = {"service_url": microsoft.connector, "token": token, "concurrency": args.concurrency}
        urls = {"courier": courier_url, "echo": echo_url}
        for bot in ("echo", "courier"):  # warm up: keys fetched, connector token cached, connections open
            await drive(urls[bot], Phase(bot), seconds=args.warmup, **load)
        phases: list[Phase] = []
        for round_ in range(args.rounds):
            order = ("echo", "courier") if round_ % 2 == 0 else ("courier", "echo")
            for bot in order:
                phase = Phase(bot)
                await drive(urls[bot], phase, seconds=args.seconds, **load)
                phases.append(phase)
        report(phases, args, databases.label)
        print(f"logs                 {logs}")
    finally:
        if spy is not None:
            stop(spy)
        stop(courier)
        stop(echo)
        microsoft.stop()
        await databases.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-echo"]:  # the baseline bot's own process (see start_echo)
        serve_echo(int(sys.argv[2]))
    else:
        asyncio.run(main())
