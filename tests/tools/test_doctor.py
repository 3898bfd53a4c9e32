"""``python app.py doctor``: a line per check, a fix for each failure, exit 0 only when all required pass."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from bot.platform.settings import Settings
from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from bot.tools.doctor import DoctorReport, Status, run_doctor

APP_ID = "00000000-0000-0000-0000-000000000d0c"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ROOT = Path(__file__).resolve().parents[2]


def _settings(
    tmp_path: Path, bf: BotFrameworkChannelEmulator, entra: EntraEmulator, graph_url: str, ca: TestCA
) -> Settings:
    return Settings(
        app_id=APP_ID,
        app_password="doctor-secret",
        app_tenant_id=TENANT,
        public_url="https://courier.contoso.com",
        encryption_key="e" * 40,
        database_url=f"sqlite:///{tmp_path / 'courier.db'}",
        bot_openid_metadata_url=bf.metadata_url,
        bot_token_issuer=bf.issuer,
        login_authority_host=entra.url,
        graph_base_url=graph_url,
        ca_bundle=str(ca.ca_bundle_path),
    )


def _by_name(report: DoctorReport) -> dict[str, Status]:
    return {c.name: c.status for c in report.checks}


async def test_a_good_configuration_is_all_green(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
) -> None:
    entra.register_app(
        APP_ID,
        tenant=TENANT,
        secret="doctor-secret",
        roles={
            "https://graph.microsoft.com": (
                "TeamsAppInstallation.ReadWriteSelfForUser.All",
                "User.Read.All",
                "GroupMember.Read.All",
                "AppCatalog.Read.All",
                "Place.Read.All",
                "Presence.Read.All",
                "TeamsActivity.Send",
            )
        },
    )
    report = await run_doctor(_settings(tmp_path, bf_channel, entra, connector.url, test_ca))
    assert report.ok, report.render()
    statuses = _by_name(report)
    for name in (
        "settings",
        "storage",
        "bot OpenID metadata",
        "login authority",
        "Microsoft Graph",
        "bot token",
        "Graph token",
        "Graph roles",
        "Teams manifest",
        "encryption key",
    ):
        assert statuses[name] is Status.OK, report.render()


async def test_a_wrong_secret_fails_with_a_fix(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret="the-real-secret")
    report = await run_doctor(_settings(tmp_path, bf_channel, entra, connector.url, test_ca))
    assert not report.ok
    text = report.render()
    assert "[FAIL] bot token" in text
    assert "fix: the client secret is wrong or expired" in text
    assert "doctor-secret" not in text


async def test_missing_roles_are_named_as_a_warning(
    tmp_path: Path,
    bf_channel: BotFrameworkChannelEmulator,
    entra: EntraEmulator,
    connector: ConnectorEmulator,
    test_ca: TestCA,
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret="doctor-secret", roles={})
    report = await run_doctor(_settings(tmp_path, bf_channel, entra, connector.url, test_ca))
    assert _by_name(report)["Graph roles"] is Status.WARN
    assert "GroupMember.Read.All" in report.render()


async def test_unreachable_endpoints_fail_with_the_setting_to_check(
    tmp_path: Path, bf_channel: BotFrameworkChannelEmulator, entra: EntraEmulator, test_ca: TestCA
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret="doctor-secret")
    settings = dataclasses.replace(
        _settings(tmp_path, bf_channel, entra, "https://127.0.0.1:9/v1.0", test_ca),
        bot_openid_metadata_url="https://127.0.0.1:9/v1/.well-known/openidconfiguration",
    )
    text = (await run_doctor(settings)).render()
    assert "[FAIL] bot OpenID metadata" in text and "COURIER_BOT_OPENID_METADATA_URL" in text
    assert "[FAIL] Microsoft Graph" in text and "COURIER_GRAPH_BASE_URL" in text


def test_the_cli_exits_non_zero_on_a_broken_configuration(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "COURIER_"))}
    env.update(
        {
            "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1",
            "COURIER_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "COURIER_BOT_OPENID_METADATA_URL": "https://127.0.0.1:9/meta",
            "COURIER_GRAPH_BASE_URL": "https://127.0.0.1:9/v1.0",
        }
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "[FAIL] bot OpenID metadata" in result.stdout
    assert "[  ok] storage" in result.stdout
