"""What the load benchmarks share: Microsoft's stand-ins in a process of their own, and bots in processes of their own.

- :class:`Microsoft`: the Bot Framework channel (OpenID metadata and signing keys), Entra (client-credentials tokens
  for the bot's app) and the Bot Connector, all over TLS with a test CA, in one child process, so their HTTP work
  does not share a GIL with the bot under test or the load generator. It mints channel tokens as the Bot Framework
  signs them and reports what the connector received (with arrival times).
- :func:`start_courier`: ``python app.py`` on a free port with settings pointing at those emulators, as production
  would run it (JSON logs at INFO); :func:`stop` ends it with SIGTERM (a clean shutdown).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "6f1c1a52-2b7e-4f3e-9a55-0c6f4b8c1d01"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "bench-secret-" + uuid.uuid4().hex
BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"


class Microsoft:
    """The emulators in a child process; :meth:`call` runs a command there."""

    def __init__(self, *, ceiling: float = 1_000_000.0, enforce_limits: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, (APP_ID, TENANT, SECRET), ceiling, enforce_limits), daemon=True
        )
        self._process.start()
        urls: dict[str, str] = self._pipe.recv()
        self.ca_bundle = urls["ca_bundle"]
        self.bf_metadata = urls["bf_metadata"]
        self.bf_issuer = urls["bf_issuer"]
        self.entra = urls["entra"]
        self.connector = urls["connector"]

    def call(self, command: str, *args: Any) -> Any:
        self._pipe.send((command, args))
        return self._pipe.recv()

    def token(self) -> str:
        """A channel token (valid for an hour) for activities whose serviceUrl is the connector emulator."""
        return str(self.call("token"))

    def stop(self) -> None:
        self.call("stop")
        self._process.join(10)

    def tls_environment(self) -> dict[str, str]:
        """What a bot process needs to trust the emulators' test CA (requests/MSAL and aiohttp)."""
        return {"REQUESTS_CA_BUNDLE": self.ca_bundle, "SSL_CERT_FILE": self.ca_bundle}


def _serve(pipe: Any, app: tuple[str, str, str], ceiling: float, enforce_limits: bool) -> None:
    from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
    from bot.sandbox.emulators.connector import ConnectorEmulator
    from bot.sandbox.emulators.entra import EntraEmulator
    from bot.sandbox.emulators.tls import TestCA

    app_id, tenant, secret = app
    ca = TestCA()
    bf = BotFrameworkChannelEmulator(ssl_context=ca.server_ssl_context())
    entra = EntraEmulator(ssl_context=ca.server_ssl_context())
    entra.register_app(app_id, tenant=tenant, secret=secret)
    connector = ConnectorEmulator(
        token_verifier=lambda token: entra.key.verify(token, audience=BOT_FRAMEWORK_RESOURCE),
        ssl_context=ca.server_ssl_context(),
        ceiling_rps=ceiling,
        enforce_limits=enforce_limits,
    )
    bf.start()
    entra.start()
    connector.start()
    pipe.send(
        {
            "ca_bundle": str(ca.ca_bundle_path),
            "bf_metadata": bf.metadata_url,
            "bf_issuer": bf.issuer,
            "entra": entra.url,
            "connector": connector.url,
        }
    )
    offset = time.time() - time.monotonic()
    while True:
        command, args = pipe.recv()
        if command == "stop":
            connector.stop()
            entra.stop()
            bf.stop()
            pipe.send(None)
            return
        if command == "token":
            pipe.send(bf.mint_channel_token(audience=app_id, service_url=connector.url))
        elif command == "set":
            name, value = args
            setattr(connector, name, value)
            pipe.send(None)
        elif command == "count":
            pipe.send(len(connector.recorded))
        elif command == "throttled":
            pipe.send(connector.throttled)
        elif command == "arrivals":
            # (conversation id, wall-clock arrival, activity summary or text) of what arrived for these conversations
            (prefixes,) = args
            pipe.send(
                [
                    (r.conversation_id, r.at + offset, r.activity.get("summary") or r.activity.get("text") or "")
                    for r in list(connector.recorded)
                    if r.conversation_id.startswith(tuple(prefixes))
                ]
            )
        else:
            pipe.send(None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def courier_environment(microsoft: Microsoft, port: int, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURIER_", "Microsoft"))}
    env.update(microsoft.tls_environment())
    env.update(
        {
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": SECRET,
            "MicrosoftAppTenantId": TENANT,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "COURIER_DATABASE_URL": database_url,
            "COURIER_BOT_OPENID_METADATA_URL": microsoft.bf_metadata,
            "COURIER_BOT_TOKEN_ISSUER": microsoft.bf_issuer,
            "COURIER_LOGIN_AUTHORITY_HOST": microsoft.entra,
            "COURIER_BOT_SERVICE_URL": microsoft.connector,
            "COURIER_LOG_FORMAT": "json",
        }
    )
    env.update(extra)
    return env


def start_process(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT)


def start_courier(
    microsoft: Microsoft, database_url: str, log: Path, *, argv: tuple[str, ...] = (), **extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """``python app.py`` (optionally under a profiler: ``argv`` goes before ``app.py``); returns it and its URL."""
    port = free_port()
    env = courier_environment(microsoft, port, database_url, **extra)
    process = start_process([sys.executable, *argv, "app.py"], env, log)
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(url: str, process: subprocess.Popen[bytes], path: str = "/healthz", within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the process under test exited with {process.returncode}")
            try:
                async with session.get(url + path) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not become ready within {within:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_sampler(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` (collapsed stacks to ``out``, written when it stops; see :func:`stop`)."""
    spy = str(Path(sys.executable).parent / "py-spy")
    args = [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "50", "-o", out]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]
