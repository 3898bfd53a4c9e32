"""Start and stop the Microsoft 365 Agents Playground (npm @microsoft/m365agentsplayground) headless.

Used by the end-to-end tests (``tests/e2e``) and by local mode (``scripts/run-local``). Bot-independent: give it
the bot's messaging endpoint. The Playground silently picks another port when the one asked for is taken, so the
real one is read from its ``Listening on N`` line. It writes its log to ``devTools/`` in its working directory, so
it runs in a folder of its own.

    python scripts/playground.py [--endpoint URL] [--port N] [--browser]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "node_modules" / ".bin" / "agentsplayground"
DEFAULT_PORT = 56150
_LISTENING = re.compile(r"Listening on (\d+)")


class PlaygroundError(RuntimeError):
    """The Playground is not installed, did not start, or exited before listening."""


def missing_reason() -> str | None:
    """Why the Playground cannot run here (``None`` when it can)."""
    if not BINARY.exists():
        return f"the Agents Playground is not installed ({BINARY} is missing): run `npm ci` in {ROOT}"
    if shutil.which("node") is None:
        return "Node.js (`node`) is not on PATH; the Agents Playground needs it"
    return None


@dataclass
class Playground:
    """A running Playground process. ``url`` is where its web client and APIs answer."""

    process: subprocess.Popen[str]
    port: int
    workdir: Path
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_files(self) -> list[Path]:
        """The Playground's own log files (``devTools/*.log`` in its working directory)."""
        return sorted((self.workdir / "devTools").glob("*.log"))

    def recent_output(self, lines: int = 50) -> str:
        return "\n".join(self.output[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate, wait, and kill if it does not exit within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_playground(
    bot_endpoint: str,
    *,
    port: int = DEFAULT_PORT,
    timeout: float = 60.0,
    browser: bool = False,
    workdir: Path | None = None,
) -> Playground:
    """Start the Playground for ``bot_endpoint`` (e.g. ``http://127.0.0.1:3978/api/messages``), Teams channel.

    Returns once it listens; raises :class:`PlaygroundError` when it cannot start. ``workdir`` (default: a new
    temporary folder) receives its ``devTools/`` logs. With ``browser=False`` no browser window is opened.
    """
    reason = missing_reason()
    if reason is not None:
        raise PlaygroundError(reason)
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="courier-playground-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if not browser:
        env["TEAMSAPPTESTER_BROWSER"] = "none"
    process = subprocess.Popen(  # noqa: S603 - our own node_modules binary with fixed arguments
        [str(BINARY), "-e", bot_endpoint, "-c", "msteams", "--disable-telemetry", "-p", str(port)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    found: list[int] = []
    done = threading.Event()

    def read() -> None:
        # Keeps draining its output for the whole run, so the pipe never fills up.
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            match = _LISTENING.search(line)
            if match and not found:
                found.append(int(match.group(1)))
                done.set()
        done.set()

    threading.Thread(target=read, name="agentsplayground-output", daemon=True).start()
    playground = Playground(process, 0, workdir, output)
    deadline = time.monotonic() + timeout
    while not done.wait(0.2):
        if time.monotonic() > deadline:
            playground.stop()
            raise PlaygroundError(
                f"the Agents Playground did not start within {timeout} s:\n{playground.recent_output(20)}"
            )
    if not found:
        playground.stop()
        raise PlaygroundError(f"the Agents Playground exited before listening:\n{playground.recent_output(20)}")
    playground.port = found[0]
    return playground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Microsoft 365 Agents Playground against a bot.")
    parser.add_argument("--endpoint", default="http://127.0.0.1:3978/api/messages", help="the bot's endpoint")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to ask for (another if taken)")
    parser.add_argument("--browser", action="store_true", help="open the Playground in a browser")
    args = parser.parse_args(argv)
    try:
        playground = start_playground(args.endpoint, port=args.port, browser=args.browser)
    except PlaygroundError as exc:
        print(f"playground: {exc}", file=sys.stderr)
        return 1
    print(f"Agents Playground: {playground.url} (logs in {playground.workdir / 'devTools'})", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the Playground too when we are terminated
    try:
        return playground.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        playground.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
