"""The console in Debian's chromium (playwright-core, headless): the browser's sign-in through the local Entra,
composing with a live preview and sending, the Sent page's figures, a non-sender's view, the in-Teams path (a host
page that frames the tab and answers teams-js as Teams does), axe-core on every page, screenshots in docs/console/ with
COURIER_UPDATE_SCREENSHOTS=1 (else in the temporary directory)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tests.browser.conftest import CHROMIUM, ROOT
from tests.support.console import READER, SENDER, ConsoleBot, a_reminder
from tests.support.live import TENANT

SCRIPT = Path(__file__).with_name("console.mjs")
# The README's pictures are refreshed on purpose (COURIER_UPDATE_SCREENSHOTS=1); an ordinary run leaves the checkout
# clean and keeps its screenshots in the temporary directory, to look at after the run.
SHOTS = (
    ROOT / "docs" / "console"
    if os.environ.get("COURIER_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "courier-console-screenshots"
)
SHOTS.mkdir(parents=True, exist_ok=True)
ANA = "aaaaaaaa-1111-2222-3333-444444444444"


async def run(scenario: str, bot: ConsoleBot, **config: Any) -> dict[str, Any]:
    """Run one scenario of console.mjs against ``bot``; what it saw. Fails with the browser's own account."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    settings = {"url": bot.url, "chromium": CHROMIUM, "shots": str(SHOTS), **config}
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        scenario,
        env={**os.environ, "CONFIG": json.dumps(settings)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-3000:]
    seen: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    diagnosis = f"calls: {seen.get('calls')}\nframes: {seen.get('frames')}\nconsole: {seen['log'][-30:]}"
    assert seen["ok"], f"{seen.get('failure')}\n{diagnosis}"
    assert seen["csp"] == [], seen["csp"]  # the page works under its own Content-Security-Policy
    assert seen["errors"] == [], seen["errors"]
    assert all(found == [] for found in seen["axe"].values()), seen["axe"]  # no serious or critical violation
    return seen


async def test_signing_in_in_a_browser_shows_the_person(console_bot: ConsoleBot) -> None:
    console_bot.people.signed_in_user = SENDER
    seen = await run("signin", console_bot)
    assert seen["name"] == SENDER.name
    assert seen["tabs"] == ["Sent", "Compose", "Mine"] and seen["path"] == "/console/"
    assert set(seen["axe"]) == {"signin"}


async def test_a_sender_composes_previews_sends_and_watches_the_figures(console_bot: ConsoleBot) -> None:
    console_bot.people.signed_in_user = SENDER
    await a_reminder(console_bot, SENDER.oid, "Send the quarterly report")
    seen = await run("compose_and_watch", console_bot, title="Office closed Friday", recipient=ANA)
    assert "Office closed Friday" in seen["preview"]["light"] and "Office closed Friday" in seen["preview"]["dark"]
    assert seen["preview"]["bold"] == ["work from home"] and seen["preview"]["items"] == 2
    assert seen["preview"]["buttons"] == ["Read more"]
    assert "Send to 1 person?" in seen["confirmation"]
    arrived = await console_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    card = arrived[0].activity["attachments"][0]["content"]
    assert card["body"][0]["text"] == "Office closed Friday"
    assert seen["sentFigure"].startswith("1") and "Office closed Friday" in seen["rowText"]
    assert any("Send the quarterly report" in row for row in seen["reminders"])
    assert set(seen["axe"]) == {"compose", "sent", "mine"}


async def test_a_non_sender_sees_no_sender_pages_and_the_api_refuses_them(console_bot: ConsoleBot) -> None:
    console_bot.people.signed_in_user = READER
    seen = await run("non_sender", console_bot)
    assert seen["name"] == READER.name
    assert seen["tabs"] == ["Mine"] and seen["tabsOnComposeUrl"] == ["Mine"] and seen["composeShown"] == 0
    assert seen["apiStatus"] == 403


async def test_in_teams_the_tab_signs_in_with_the_token_teams_gives_it(console_bot: ConsoleBot) -> None:
    token = console_bot.sso(SENDER)
    seen = await run("teams", console_bot, token=token, tenantId=TENANT, userId=SENDER.oid, upn=SENDER.upn)
    assert seen["name"] == SENDER.name and seen["tabs"] == ["Sent", "Compose", "Mine"]
    assert seen["theme"] == "light" and seen["themeAfterChange"] == "dark"
    assert {"initialize", "getContext", "authentication.getAuthToken"} <= set(seen["calls"])


async def test_in_teams_an_expired_token_opens_nothing(console_bot: ConsoleBot) -> None:
    token = console_bot.sso(SENDER, expires_in=-3600)
    who = {"tenantId": TENANT, "userId": SENDER.oid, "upn": SENDER.upn}
    seen = await run("teams", console_bot, token=token, expectError=True, shots="", **who)
    assert "can't open the console" in seen["alert"]
