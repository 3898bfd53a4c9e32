"""Logs at DEBUG carry no SQL parameters (the drivers' statement logs stay off) and no tokens."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.platform.log import configure_logging, mask_secrets
from bot.platform.storage import open_store


async def test_debug_logging_does_not_echo_sql_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("aiosqlite").level)
    configure_logging("DEBUG", "text")
    try:
        store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
        await store.put_value("consent_state", "state-SECRET-1234", {"tenant": "t"})
        await store.close()
        assert logging.getLogger("aiosqlite").getEffectiveLevel() >= logging.INFO
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("aiosqlite").setLevel(saved[2])
    assert "state-SECRET-1234" not in capsys.readouterr().err


def test_tokens_and_secrets_are_masked() -> None:
    text = mask_secrets("Authorization: Bearer abc.def.ghi client_secret=hunter2&x=1")
    assert "abc.def.ghi" not in text and "hunter2" not in text
