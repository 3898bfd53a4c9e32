"""Local mode: Courier, a local Microsoft 365 tenant (``app.py sandbox``'s Entra, Graph and people) and the Agents
Playground, all on 127.0.0.1, until Ctrl-C.

Run through ``scripts/run-local``. The Playground presents the sandbox's people, team and channels, and is Courier's
Bot Connector; the sandbox's Entra signs people in (a local sign-in page) and its Graph holds their calendars and
the team's history. Settings from the environment still apply (COURIER_DATABASE_URL, ...).

    scripts/run-local [--port 3978] [--playground-port 56150] [--sandbox-port 56160]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.sandbox.cli import curl_example
from bot.sandbox.relay import ConnectorRelay, Delivery
from bot.sandbox.tenant import PEOPLE, LocalTenant, PortTaken, check_port, sandbox_ports
from scripts.playground import Playground, PlaygroundError, start_playground

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def arguments(argv: list[str] | None, env: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/run-local", description="Courier with a local Microsoft 365.")
    parser.add_argument("--port", type=int, default=int(env.get("PORT", "3978")), help="Courier's port (PORT)")
    parser.add_argument(
        "--playground-port",
        type=int,
        default=int(env.get("COURIER_PLAYGROUND_PORT", "56150")),
        help="the Agents Playground's port (COURIER_PLAYGROUND_PORT)",
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=int(env.get("COURIER_SANDBOX_PORT", "56160")),
        help="the sandbox's Entra, Graph, connector and sign-in page: it and the next three (COURIER_SANDBOX_PORT)",
    )
    return parser.parse_args(argv)


def check_ports(args: argparse.Namespace) -> None:
    check_port(HOST, args.port, "Courier", "set PORT=<free port> or pass --port <free port>")
    check_port(
        HOST,
        args.playground_port,
        "the Agents Playground",
        "set COURIER_PLAYGROUND_PORT=<free port> or pass --playground-port <free port>",
    )
    for what, port in sandbox_ports(args.sandbox_port).items():
        check_port(
            HOST,
            port,
            f"the sandbox's {what}",
            "set COURIER_SANDBOX_PORT=<free port> or pass --sandbox-port <free port> (it uses four in a row)",
        )


def courier_environment(tenant: LocalTenant, port: int, relay: ConnectorRelay) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "MICROSOFT_APP"))}
    env.pop("COURIER_DANGEROUSLY_ALLOW_ANONYMOUS", None)
    env.update(tenant.courier_settings(f"http://{HOST}:{port}", connector_url=relay.url))
    env.update({"PORT": str(port), "HOST": HOST})
    env.setdefault("COURIER_LOG_FORMAT", "text")
    return env


def start_relay(playground_port: int) -> ConnectorRelay:
    """Courier's Bot Connector: the Playground's mock connector, through a relay that prints what reaches a
    colleague (the Playground shows only your own chats)."""

    def show(delivery: Delivery) -> None:
        print(f"  -> delivered to {delivery.person} (their chat with Courier): {delivery.text}", flush=True)

    relay = ConnectorRelay(
        f"http://{HOST}:{playground_port}/_connector", {p.oid: p.name for p in PEOPLE}, on_delivery=show
    )
    relay.start()
    return relay


def wait_healthy(port: int, bot: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            raise SystemExit(f"courier: Courier exited with status {bot.returncode}; see the lines above.")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit("courier: Courier did not become healthy within 30 s.")


def banner(tenant: LocalTenant, args: argparse.Namespace, playground: Playground) -> str:
    courier = f"http://{HOST}:{args.port}"
    people = ", ".join(p.name for p in PEOPLE[1:])
    entra = tenant.entra.sign_in_url if tenant.entra is not None else ""
    return "\n".join(
        [
            "",
            f"  Courier:            {courier}/api/messages (SQLite, local Microsoft 365)",
            f"  Agents Playground:  {playground.url}   <- open this; you are {tenant.you.name}",
            f"  Colleagues:         {people}",
            f"  Sign-in:            `signin` in the Playground opens the local sign-in page ({entra})",
            f"  API key:            {tenant.secrets.api_key}",
            f"  Try the API:        {curl_example(courier, tenant.secrets.api_key, tenant.you.oid)}",
            "  Press Ctrl-C to stop.",
            "",
        ]
    )


def run(args: argparse.Namespace) -> int:
    state = ROOT / ".courier-sandbox"
    tenant = LocalTenant(state, host=HOST, base_port=args.sandbox_port)
    bot: subprocess.Popen[bytes] | None = None
    playground: Playground | None = None
    relay: ConnectorRelay | None = None
    try:
        tenant.start()
        relay = start_relay(args.playground_port)
        workdir = state / "playground"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / ".m365agentsplayground.yml").write_text(json.dumps(tenant.playground_config(), indent=2))
        env = courier_environment(tenant, args.port, relay)
        # A session of its own: Ctrl-C reaches this script only, which then stops Courier once, cleanly.
        bot = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, start_new_session=True)  # noqa: S603
        wait_healthy(args.port, bot)
        try:
            playground = start_playground(
                f"http://{HOST}:{args.port}/api/messages", port=args.playground_port, workdir=workdir
            )
        except PlaygroundError as exc:
            print(f"courier: {exc}", file=sys.stderr)
            return 1
        if playground.port != args.playground_port:
            print(f"courier: port {args.playground_port} (the Agents Playground) was taken meanwhile.", file=sys.stderr)
            return 2
        print(banner(tenant, args, playground), flush=True)
        while bot.poll() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        if playground is not None:
            playground.stop()
        if bot is not None and bot.poll() is None:
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(20)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait(5)
        if relay is not None:
            relay.stop()
        tenant.stop()


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv, os.environ)
    try:
        check_ports(args)
    except PortTaken as exc:
        print(f"courier: {exc}", file=sys.stderr)
        return 2
    return run(args)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        raise SystemExit(0) from None
