"""``python app.py sandbox`` as a person runs it: a subprocess that prints what it serves and writes Courier's
settings; a Courier started with exactly those settings; everything checked over HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio

from bot.platform.settings import load_settings
from bot.sandbox.cli import curl_example
from bot.sandbox.tenant import APP_ID, PEOPLE, TENANT_ID
from tests.e2e.playground import BotProcess, free_port, start_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Sandbox:
    process: subprocess.Popen[str]
    env_file: Path
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip())
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_line(self, pattern: str, timeout: float = 15.0) -> str:
        """The first printed line matching ``pattern`` (waiting for it)."""
        found: list[str] = []

        def match() -> bool:
            found[:] = [line for line in self.lines if re.search(pattern, line)]
            return bool(found) or self.process.poll() is not None

        with self.changed:
            self.changed.wait_for(match, timeout)
        assert found, f"the sandbox never printed {pattern!r}; it printed:\n" + "\n".join(self.lines)
        return found[0]

    def settings(self) -> dict[str, str]:
        pairs = [line.split("=", 1) for line in self.env_file.read_text().splitlines() if "=" in line]
        return {key: value for key, value in pairs if not key.startswith("#")}


@dataclass
class World:
    sandbox: Sandbox
    courier: BotProcess
    settings: dict[str, str]

    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings["COURIER_CA_BUNDLE"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world() -> AsyncIterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="courier-sandbox-test-"))
    courier_port = free_port()
    env_file = workdir / "courier.env"
    arguments = ["--state-dir", str(workdir / "state"), "--env-file", str(env_file)]
    arguments += ["--courier-url", f"http://127.0.0.1:{courier_port}"]
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "sandbox", *arguments],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    sandbox = Sandbox(process, env_file)
    threading.Thread(target=sandbox.read, daemon=True).start()
    courier: BotProcess | None = None
    try:
        await asyncio.to_thread(sandbox.wait_line, r"^Ready\.")
        settings = sandbox.settings()

        def environment(port: int) -> dict[str, str]:
            return {**settings, "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "0"}

        courier = await start_bot(workdir, extra_env=environment, port=courier_port)
        yield World(sandbox, courier, settings)
    finally:
        if courier is not None:
            await asyncio.to_thread(courier.stop)
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


async def test_the_settings_it_writes_configure_a_complete_courier(world: World) -> None:
    settings = load_settings(world.settings, dotenv=None)
    assert (settings.app_id, settings.app_tenant_id) == (APP_ID, TENANT_ID)
    assert settings.graph_base_url.startswith("https://127.0.0.1:")
    assert settings.login_authority_host.startswith("https://127.0.0.1:")
    assert settings.bot_service_url.startswith("https://127.0.0.1:")
    assert settings.public_url == f"http://127.0.0.1:{world.courier.port}"
    assert settings.senders == frozenset({PEOPLE[0].oid})
    assert settings.api_key_hashes and settings.encryption_key and settings.ca_bundle


async def test_it_prints_the_api_key_and_a_curl_to_paste(world: World) -> None:
    key = world.settings["COURIER_API_KEYS"]
    assert world.sandbox.wait_line(r"^API key:") == f"API key: {key}"
    assert world.sandbox.wait_line(r"curl -X POST").strip() == curl_example(
        f"http://127.0.0.1:{world.courier.port}", key, PEOPLE[0].oid
    )


async def test_courier_is_ready_against_it(world: World) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{world.courier.url}/readyz") as response:
        assert response.status == 200, await response.text()


async def test_graph_serves_the_sample_people(world: World) -> None:
    authority = f"{world.settings['COURIER_LOGIN_AUTHORITY_HOST']}/{TENANT_ID}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": APP_ID,
        "client_secret": world.settings["MicrosoftAppPassword"],
        "scope": "https://graph.microsoft.com/.default",
    }
    connector = aiohttp.TCPConnector(ssl=world.ssl())
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(authority, data=form) as answer:
            token = (await answer.json())["access_token"]
        graph = world.settings["COURIER_GRAPH_BASE_URL"]
        names: list[str] = []
        url: str | None = f"{graph}/users"
        while url:
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200, await response.text()
                page = await response.json()
            names += [user["displayName"] for user in page["value"]]
            url = page.get("@odata.nextLink")
    assert names == [p.name for p in PEOPLE]


async def test_a_person_signs_in_on_the_local_sign_in_page(world: World) -> None:
    """What a browser does: the discovered authorize page (plain HTTP), a pick, the redirect with a code; the
    code redeemed as Courier redeems it (PKCE, client secret) names the person picked."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = f"{world.courier.url}/auth/callback"
    connector = aiohttp.TCPConnector(ssl=world.ssl())
    host = world.settings["COURIER_LOGIN_AUTHORITY_HOST"]
    async with aiohttp.ClientSession(connector=connector) as browser:
        async with browser.get(f"{host}/{TENANT_ID}/v2.0/.well-known/openid-configuration") as response:
            discovery = await response.json()
        query = {
            "client_id": APP_ID,
            "response_type": "code",
            "redirect_uri": redirect,
            "scope": "User.Read offline_access",
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        assert discovery["authorization_endpoint"].startswith("http://127.0.0.1:")  # no certificate warning
        async with browser.get(discovery["authorization_endpoint"], params=query) as page:
            html = await page.text()
            action = str(page.url)
        assert "Megan Bowen" in html and "meganb@contoso.test" in html
        async with browser.post(action, data={"login": "meganb@contoso.test"}, allow_redirects=False) as picked:
            back = urlsplit(picked.headers["Location"])
        code = parse_qs(back.query)["code"][0]
        assert (f"{back.scheme}://{back.netloc}{back.path}", parse_qs(back.query)["state"]) == (redirect, ["s1"])
        form = {
            "grant_type": "authorization_code",
            "client_id": APP_ID,
            "client_secret": world.settings["MicrosoftAppPassword"],
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        }
        async with browser.post(discovery["token_endpoint"], data=form) as answer:
            tokens = await answer.json()
    claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    assert (claims["preferred_username"], claims["name"]) == ("meganb@contoso.test", "Megan Bowen")


async def test_an_api_send_reaches_its_bot_connector(world: World) -> None:
    body = {
        "idempotencyKey": "sandbox-test",
        "recipients": [{"userId": PEOPLE[2].oid}],
        "template": "announcement",
        "data": {"title": "Hello Adele", "text": "From the API"},
    }
    headers = {"Authorization": f"Bearer {world.settings['COURIER_API_KEYS']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{world.courier.url}/api/notifications", json=body, headers=headers) as response,
    ):
        assert response.status == 202, await response.text()
    line = await asyncio.to_thread(world.sandbox.wait_line, r"^connector: send to Adele Vance")
    assert "Hello Adele" in line and "From the API" in line
