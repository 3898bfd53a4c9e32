"""Start and stop the Microsoft 365 Agents Playground (npm @microsoft/m365agentsplayground) headless.

Used by the e2e tests and by ``scripts/run-local``. The Playground may silently pick another port when the one
asked for is taken, so the real one is read from its ``Listening on N`` line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "node_modules" / ".bin" / "agentsplayground"
_LISTENING = re.compile(r"Listening on (\d+)")


class PlaygroundError(RuntimeError):
    pass


@dataclass
class Playground:
    process: subprocess.Popen[str]
    port: int
    workdir: Path
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_playground(
    bot_endpoint: str, *, port: int = 56150, timeout: float = 60.0, browser: bool = False
) -> Playground:
    if not BINARY.exists():
        raise PlaygroundError("the Agents Playground is not installed: run `npm ci` in the project folder")
    workdir = Path(tempfile.mkdtemp(prefix="courier-playground-"))  # it writes devTools/ logs where it runs
    env = dict(os.environ)
    if not browser:
        env["TEAMSAPPTESTER_BROWSER"] = "none"
    process = subprocess.Popen(  # noqa: S603 - our own node_modules binary with fixed arguments
        [str(BINARY), "-e", bot_endpoint, "-c", "msteams", "--disable-telemetry", "-p", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    found: list[int] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            match = _LISTENING.search(line)
            if match and not found:
                found.append(int(match.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.2):
        if time.monotonic() > deadline:
            process.kill()
            raise PlaygroundError(f"the Playground did not start within {timeout} s:\n" + "\n".join(output[-20:]))
    if not found:
        raise PlaygroundError("the Playground exited before listening:\n" + "\n".join(output[-20:]))
    return Playground(process, found[0], workdir, output)


if __name__ == "__main__":
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3978/api/messages"
    playground = start_playground(endpoint, browser=True)
    print(f"Agents Playground: {playground.url}")
    try:
        playground.process.wait()
    except KeyboardInterrupt:
        playground.stop()
