"""Local mode: Courier (anonymous, SQLite) plus the Agents Playground, until Ctrl-C.

Run through ``scripts/run-local``. Settings from the environment still apply (PORT, COURIER_DATABASE_URL, ...);
local mode only adds COURIER_DANGEROUSLY_ALLOW_ANONYMOUS=1 and drops any app id, because the Playground sends
no tokens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.playground import PlaygroundError, start_playground

ROOT = Path(__file__).resolve().parent.parent


def wait_healthy(port: int, bot: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            raise SystemExit(f"Courier exited with status {bot.returncode}; see the lines above.")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit("Courier did not become healthy within 30 s.")


def main() -> int:
    port = int(os.environ.get("PORT", "3978"))
    env = {**os.environ, "PORT": str(port), "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1"}
    env.setdefault("COURIER_LOG_FORMAT", "text")
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppTenantId"):
        env.pop(name, None)
    bot = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env)  # noqa: S603
    playground = None
    try:
        wait_healthy(port, bot)
        try:
            playground = start_playground(f"http://127.0.0.1:{port}/api/messages")
        except PlaygroundError as exc:
            print(f"courier: {exc}", file=sys.stderr)
            return 1
        print()
        print(f"  Courier is running at http://127.0.0.1:{port}/api/messages (SQLite, local mode)")
        print(f"  Chat with it in the Agents Playground: {playground.url}")
        print("  Press Ctrl-C to stop.")
        print(flush=True)
        while bot.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if playground is not None:
            playground.stop()
        bot.send_signal(signal.SIGINT)
        try:
            bot.wait(20)
        except subprocess.TimeoutExpired:
            bot.kill()
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    raise SystemExit(main())
