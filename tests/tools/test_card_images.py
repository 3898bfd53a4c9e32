"""``app.py cards`` renders cards to PNG with the official renderer in headless Chromium."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from bot.platform import i18n
from bot.platform.cards import CardRenderer
from bot.tools.card_images import RENDERER_JS, gallery_folder, render_png

pytestmark = pytest.mark.chromium


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed: card pictures were NOT checked (scripts/test installs it)")
    if not RENDERER_JS.is_file():
        pytest.skip("node_modules/adaptivecards is missing: run scripts/test (npm ci)")


async def test_a_card_renders_to_a_png_as_tall_as_the_card(tmp_path: Path) -> None:
    renderer = CardRenderer()
    short = await render_png(renderer.render("notice", renderer.sample("notice")), tmp_path / "short.png")
    tall = await render_png(renderer.render("help", renderer.sample("help")), tmp_path / "tall.png")
    header = short.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    short_height = struct.unpack(">I", header[20:24])[0]
    tall_height = struct.unpack(">I", tall.read_bytes()[20:24])[0]
    assert 0 < short_height < tall_height


def test_the_gallery_keeps_english_light_at_the_top_and_every_other_pair_beside_it(tmp_path: Path) -> None:
    assert gallery_folder(tmp_path, "en", "light") == tmp_path
    assert gallery_folder(tmp_path, "de", "dark") == tmp_path / "de-dark"


async def test_the_gallery_renders_a_card_in_another_language(tmp_path: Path) -> None:
    (english,) = [p for p in await _one_card(tmp_path / "en", "en") if p.name == "help.png"]
    (german,) = [p for p in await _one_card(tmp_path / "de", "de") if p.name == "help.png"]
    assert english.read_bytes() != german.read_bytes()  # the words differ, so do the pictures


async def _one_card(out: Path, language: str) -> list[Path]:
    renderer = CardRenderer()
    with i18n.using(language):
        card = renderer.render("help", renderer.sample("help"))
    return [await render_png(card, out / "help.png", theme="dark")]
