"""One Courier process and one Agents Playground for the whole e2e session.

Session scope is safe because every test works in a conversation of its own or in a fresh channel thread, and
``next_message`` only looks at events that arrived after the test's own action. When a test fails, the bot's log,
the Playground's output and the last WebSocket events are attached to its report. When the Playground cannot run
(no ``node_modules``, no ``node``), every e2e test is skipped and the run ends with a banner saying so.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
import pytest_asyncio
from pluggy import Result

from scripts.playground import missing_reason
from tests.e2e.playground import PlaygroundHarness, start_harness

E2E_DIR = Path(__file__).resolve().parent
HARNESS = pytest.StashKey[PlaygroundHarness]()
SKIPPED = pytest.StashKey[str]()


def _is_e2e(item: pytest.Item) -> bool:
    return E2E_DIR in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if _is_e2e(item)]
    for item in ours:
        item.add_marker(pytest.mark.e2e)
    reason = missing_reason()
    if reason is not None and ours:
        config.stash[SKIPPED] = reason
        for item in ours:
            item.add_marker(pytest.mark.skip(reason=f"END-TO-END TESTS DID NOT RUN: {reason}"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    reason = config.stash.get(SKIPPED, None)
    if reason is not None:
        terminalreporter.section("Agents Playground end-to-end tests SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(f"The e2e tests did NOT run: {reason}", red=True, bold=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    harness = item.config.stash.get(HARNESS, None)
    if report.failed and harness is not None and _is_e2e(item):
        for title, text in harness.diagnostics():
            report.sections.append((title, text))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playground(request: pytest.FixtureRequest) -> AsyncIterator[PlaygroundHarness]:
    """Courier (anonymous mode, temporary SQLite, text logs) and the Agents Playground, reply stream connected."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"END-TO-END TESTS DID NOT RUN: {reason}")
    workdir = Path(tempfile.mkdtemp(prefix="courier-e2e-"))  # bot log, SQLite file, Playground devTools/
    harness = await start_harness(workdir)
    request.config.stash[HARNESS] = harness
    try:
        yield harness
    finally:
        del request.config.stash[HARNESS]
        await harness.close()
        if request.session.testsfailed == 0:
            shutil.rmtree(workdir, ignore_errors=True)  # kept after a failure, for its logs
