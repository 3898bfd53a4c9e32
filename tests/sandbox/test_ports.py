"""A taken port is one clear line naming it and how to change it, from ``app.py sandbox`` and from local mode."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "flag", "hint"),
    [
        (["app.py", "sandbox"], "--port", "pick other ports with --port, or leave it out"),
        (["scripts/local.py"], "--port", "set PORT=<free port> or pass --port <free port>"),
    ],
)
def test_a_taken_port_is_one_line_naming_it(command: list[str], flag: str, hint: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(ROOT / command[0]), *command[1:], flag, str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"port {port} (" in done.stderr and hint in done.stderr
