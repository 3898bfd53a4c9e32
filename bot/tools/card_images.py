"""Render every card's sample to PNG with the official Adaptive Cards renderer in headless Chromium.

Uses ``node_modules/adaptivecards`` (the JS renderer) and Teams' host config from
``node_modules/adaptivecards-designer``; two Chromium passes per card: one to measure the rendered height
(``--dump-dom``), one to take a screenshot of exactly that size.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bot.platform import i18n
from bot.platform.cards import CardRenderer

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RENDERER_JS = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
HOST_CONFIGS = ROOT / "node_modules" / "adaptivecards-designer" / "lib" / "hostConfigs"
WIDTH = 520
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=2",
    "--allow-file-access-from-files",
)
_BACKGROUND = {"light": "#f5f5f5", "dark": "#1f1f1f"}


class CardImageError(RuntimeError):
    pass


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise CardImageError("Chromium is not installed: apt-get install chromium (Debian) to render card pictures")


_PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8">
<style>
  body { margin: 0; background: __BACKGROUND__; font-family: "Segoe UI", system-ui, sans-serif; }
  #frame { width: __FRAME__px; margin: 16px; border-radius: 8px; overflow: hidden;
           box-shadow: 0 1px 3px rgba(0,0,0,.15); }
  .ac-pushButton { border: 1px solid #d1d1d1; border-radius: 4px; background: #fff; color: #242424;
                   padding: 5px 12px; font: 600 14px "Segoe UI", system-ui, sans-serif; }
  .ac-pushButton.style-positive { background: #5b5fc7; color: #fff; border-color: #5b5fc7; }
  .ac-pushButton.style-destructive { color: #c4314b; }
</style>
<script src="__RENDERER__"></script>
</head><body><div id="frame"></div>
<script>
  // Teams renders a markdown subset; the bare renderer must be told how (bold and italics suffice here).
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    const escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    result.outputHtml = escaped.replace(/\*\*(.+?)\*\*/g, "<b>$1</b>").replace(/(^|\s)_(.+?)_/g, "$1<i>$2</i>");
    result.didProcess = true;
  };
  const card = new AdaptiveCards.AdaptiveCard();
  card.hostConfig = new AdaptiveCards.HostConfig(__HOST_CONFIG__);
  card.parse(__CARD__);
  document.getElementById("frame").appendChild(card.render());
  document.body.setAttribute("data-height", String(document.getElementById("frame").offsetHeight + 32));
</script></body></html>"""


def _page(card: dict[str, object], host_config: dict[str, object], theme: str) -> str:
    def script_json(value: object) -> str:
        return json.dumps(value).replace("</", "<\\/")

    return (
        _PAGE.replace("__BACKGROUND__", _BACKGROUND[theme])
        .replace("__FRAME__", str(WIDTH - 32))
        .replace("__RENDERER__", RENDERER_JS.as_uri())
        .replace("__HOST_CONFIG__", script_json(host_config))
        .replace("__CARD__", script_json(card))
    )


async def _chromium(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        find_chromium(),
        *_CHROMIUM_FLAGS,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        raise CardImageError("Chromium did not finish within 60 s") from None
    if process.returncode != 0:
        raise CardImageError(f"Chromium failed ({process.returncode}): {stderr.decode(errors='replace')[-400:]}")
    return stdout.decode(errors="replace")


async def render_png(card: dict[str, object], out: Path, *, theme: str = "light") -> Path:
    if not RENDERER_JS.is_file():
        raise CardImageError("node_modules/adaptivecards is missing: run npm ci")
    config_path = HOST_CONFIGS / f"microsoft-teams-{theme}.json"
    if not config_path.is_file():
        raise CardImageError(f"Teams host config {config_path.name} is missing: run npm ci")
    host_config = json.loads(config_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="courier-card-") as tmp:
        page = Path(tmp) / "card.html"
        page.write_text(_page(card, host_config, theme), encoding="utf-8")
        profile = Path(tmp) / "profile"
        common = (f"--user-data-dir={profile}", f"--window-size={WIDTH},2000")
        dom = await _chromium(*common, "--dump-dom", page.as_uri())
        match = re.search(r'data-height="(\d+)"', dom)
        if match is None:
            raise CardImageError("the card did not render (no height measured); is the renderer bundle intact?")
        height = int(match.group(1))
        out.parent.mkdir(parents=True, exist_ok=True)
        await _chromium(
            f"--user-data-dir={profile}", f"--window-size={WIDTH},{height}", f"--screenshot={out}", page.as_uri()
        )
    if not out.is_file() or out.stat().st_size == 0:
        raise CardImageError(f"Chromium wrote no picture for {out.name}")
    return out


async def render_pngs(
    renderer: CardRenderer, out_dir: Path, *, host_config: str = "light", language: str = "en"
) -> list[Path]:
    """Every card's sample, its text in ``language`` (a catalogue: "de", "ja", ...), to ``out_dir/<name>.png``;
    returns the paths. A sample's values that are Courier's own messages (a help line, an audience) are translated
    too; the rest (a reminder's text, a computed subtitle) stays as the sample has it."""
    paths = []
    for name in renderer.names():
        with i18n.using(language):
            card = renderer.render(name, _translated(renderer.sample(name)))
        path = await render_png(card, out_dir / f"{name}.png", theme=host_config)
        logger.info("rendered %s", path)
        paths.append(path)
    return paths


def _translated(value: Any) -> Any:
    if isinstance(value, str):
        said = i18n._(value)
        return said if said != value else i18n.pgettext("command", value)
    if isinstance(value, list):
        return [_translated(v) for v in value]
    if isinstance(value, dict):
        return {k: _translated(v) for k, v in value.items()}
    return value


def gallery_folder(out: Path, language: str, theme: str) -> Path:
    """English in the light theme at the top (``docs/cards/<name>.png``), every other pair beside it
    (``docs/cards/de-dark/<name>.png``)."""
    return out if (language, theme) == ("en", "light") else out / f"{language}-{theme}"


async def render_gallery(
    renderer: CardRenderer, out: Path, *, languages: tuple[str, ...], themes: tuple[str, ...]
) -> list[Path]:
    """Every card in each of ``languages`` and ``themes``."""
    paths = []
    for language in languages:
        for theme in themes:
            folder = gallery_folder(out, language, theme)
            paths += await render_pngs(renderer, folder, host_config=theme, language=language)
    return paths
