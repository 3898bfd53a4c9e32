"""The bot as a process: refuses bad settings with one clear line, shuts down cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.e2e.playground import ROOT, free_port, start_bot


def _run_app(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "COURIER_"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        check=False,
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_without_an_app_id_and_without_the_flag_the_bot_refuses_to_start(tmp_path: Path) -> None:
    result = _run_app({}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "MicrosoftAppId" in lines[0] and "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS" in lines[0]


def test_a_malformed_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    result = _run_app({"COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1", "PORT": "eighty"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "courier: setting PORT is malformed: expected a whole number, got 'eighty'"


def test_a_port_in_use_stops_start_up_with_one_line_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run_app({"COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1", "PORT": str(port)}, tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("courier:")]
    assert lines == [
        f"courier: port {port} is already in use on 127.0.0.1 (another Courier, or the Playground?); "
        "set PORT (and HOST) to another address"
    ]
    assert "Traceback" not in result.stderr + result.stdout


async def test_ctrl_c_shuts_down_cleanly_and_closes_storage(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path)
    bot.process.send_signal(signal.SIGINT)
    assert bot.process.wait(20) == 0
    log = bot.log()
    assert "storage closed" in log
    assert "Traceback" not in log


def test_ctrl_c_during_start_up_exits_without_a_traceback(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "COURIER_"))}
    env = {**clean, "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1", "PORT": str(free_port())}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # start-up has begun (the first log line: storage, migrations)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, first + rest
    assert "Traceback" not in first + rest and "KeyboardInterrupt" not in first + rest


async def test_anonymous_mode_logs_a_warning_at_start(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path)
    bot.stop()
    assert "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS is on" in bot.log()
