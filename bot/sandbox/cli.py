"""``python app.py sandbox``: a local Microsoft 365 tenant for Courier, until Ctrl-C.

Starts Entra, Graph and a Bot Connector on 127.0.0.1, writes the settings Courier needs to an env file and prints
what it serves, then prints every message that reaches its Bot Connector. Run Courier against it with::

    set -a; . .courier-sandbox/courier.env; set +a; python app.py
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from bot.sandbox.tenant import TENANT_ID, LocalTenant, PortTaken

STATE_DIR = Path(".courier-sandbox")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="Entra on PORT, Graph on PORT+1, Bot Connector on PORT+2, sign-in page on PORT+3 (default: free)",
    )
    parser.add_argument("--courier-url", default="http://127.0.0.1:3978", help="where Courier will listen")
    parser.add_argument("--connector-url", default=None, help="send proactive messages there instead")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="keys and the CA (default .courier-sandbox)")
    parser.add_argument("--env-file", type=Path, default=None, help="where to write Courier's settings")


def write_env(path: Path, settings: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Courier's settings for the local sandbox (python app.py sandbox); local secrets, never commit"]
    lines += [f"{name}={value}" for name, value in settings.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


def curl_example(courier_url: str, api_key: str, user_id: str) -> str:
    """A ready-to-paste POST /api/notifications to ``user_id`` (a new idempotency key each time it is pasted)."""
    body = (
        '{"idempotencyKey": "hello-\'"$(date +%s)"\'", "recipients": [{"userId": "' + user_id + '"}], '
        '"tenantId": "' + TENANT_ID + '", "template": "announcement", '
        '"data": {"title": "Hello from the API", "text": "Sent with curl"}}'
    )
    return (
        f"curl -X POST {courier_url.rstrip('/')}/api/notifications -H 'Authorization: Bearer {api_key}' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )


def run(args: argparse.Namespace) -> int:
    tenant = LocalTenant(args.state_dir, host=args.host, base_port=int(args.port))
    try:
        tenant.start()
    except PortTaken as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        settings = tenant.courier_settings(args.courier_url, connector_url=args.connector_url)
        env_file = args.env_file or args.state_dir / "courier.env"
        write_env(env_file, settings)
        print("Local Microsoft 365 sandbox")
        for line in tenant.describe():
            print(f"  {line}")
        print(f"Courier's settings: {env_file}")
        print(f"  run Courier with them: set -a; . {env_file}; set +a; python app.py")
        print(f"API key: {tenant.secrets.api_key}")
        print(f"  {curl_example(args.courier_url, tenant.secrets.api_key, tenant.you.oid)}")
        print("Ready. Ctrl-C stops the sandbox.", flush=True)
        while not stop.wait(0.3):
            for line in tenant.new_deliveries():
                print(line, flush=True)
    finally:
        tenant.stop()
    return 0
