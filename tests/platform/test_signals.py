"""Stopping the process: a second signal during shutdown neither hangs it nor cuts the cleanup short."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.e2e.playground import start_bot


async def test_a_second_sigterm_during_shutdown_still_ends_cleanly(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path)
    bot.process.send_signal(signal.SIGTERM)
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(20) == 0
    log = bot.log()  # the second signal is ignored ("already stopping") or arrives once the process is gone
    assert "storage closed" in log and "Traceback" not in log


async def test_ctrl_c_twice_ends_cleanly(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path)
    bot.process.send_signal(signal.SIGINT)
    bot.process.send_signal(signal.SIGINT)
    assert bot.process.wait(20) == 0
    assert "storage closed" in bot.log()
