"""A wrong COURIER_ENCRYPTION_KEY is caught at start-up, not one deleted sign-in at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.platform.identity.crypto import TokenCipher, WrongEncryptionKey, check_key
from bot.platform.storage import open_store

KEY = "k" * 40


async def test_the_first_start_records_a_check_and_the_same_key_passes_again(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
    try:
        await check_key(TokenCipher(KEY), store)
        await check_key(TokenCipher(KEY), store)
    finally:
        await store.close()


async def test_another_key_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'courier.db'}")
    try:
        await check_key(TokenCipher(KEY), store)
        with pytest.raises(WrongEncryptionKey, match="COURIER_ENCRYPTION_KEY is not the key"):
            await check_key(TokenCipher("z" * 40), store)
    finally:
        await store.close()
