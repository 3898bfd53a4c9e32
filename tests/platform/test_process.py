"""The bot as a process: refuses bad settings with one clear line, shuts down cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.playground import ROOT, start_bot


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


async def test_ctrl_c_shuts_down_cleanly_and_closes_storage(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path)
    bot.process.send_signal(signal.SIGINT)
    assert bot.process.wait(20) == 0
    log = bot.log()
    assert "storage closed" in log
    assert "Traceback" not in log


async def test_anonymous_mode_logs_a_warning_at_start(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path)
    bot.stop()
    assert "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS is on" in bot.log()
