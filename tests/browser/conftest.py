"""The console's browser tests: skipped loudly (a red banner at the end of the run) when Debian's chromium, the
console's packages or its bundle are missing (``scripts/bootstrap.sh --console --chromium`` provides them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.platform.web.console import CONSOLE_DIST

BROWSER_DIR = Path(__file__).resolve().parent
ROOT = BROWSER_DIR.parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SKIPPED = pytest.StashKey[str]()


def missing_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (apt-get install chromium, or scripts/bootstrap.sh --chromium)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ROOT / "console" / "node_modules" / "playwright-core").is_dir():
        return "the console's packages are not installed (scripts/bootstrap.sh --console)"
    if not (CONSOLE_DIST / "index.html").is_file():
        return "the console is not built (scripts/bootstrap.sh --console)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if BROWSER_DIR in Path(str(item.path)).resolve().parents]
    reason = missing_reason()
    if reason is not None and ours:
        config.stash[SKIPPED] = reason
        for item in ours:
            item.add_marker(pytest.mark.skip(reason=f"CONSOLE BROWSER TESTS DID NOT RUN: {reason}"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    reason = config.stash.get(SKIPPED, None)
    if reason is not None:
        terminalreporter.section("Console browser tests SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(f"The console's browser tests did NOT run: {reason}", red=True, bold=True)
