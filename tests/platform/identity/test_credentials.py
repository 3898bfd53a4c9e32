"""The app credential: secret or certificate through MSAL against the Entra emulator over HTTPS."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from bot.platform.identity.certs import generate_certificate
from bot.platform.identity.credentials import CredentialError, MsalAppCredential, credential_from_settings
from bot.platform.settings import Settings
from bot.sandbox.emulators.entra import EntraEmulator

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SCOPE = "https://graph.microsoft.com"


def _settings(
    entra: EntraEmulator, app_id: str, *, app_password: str = "right-secret", app_certificate_path: str = ""
) -> Settings:
    return Settings(
        app_id=app_id,
        app_password=app_password,
        app_certificate_path=app_certificate_path,
        app_tenant_id=TENANT,
        login_authority_host=entra.url,
    )


def _app_id(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


async def test_a_client_secret_gets_a_token_with_its_roles(entra: EntraEmulator) -> None:
    app_id = _app_id(101)
    entra.register_app(app_id, tenant=TENANT, secret="right-secret", roles={SCOPE: ("User.Read.All",)})
    credential = credential_from_settings(_settings(entra, app_id))
    assert credential is not None
    token = await credential.get_token(SCOPE)
    assert token.roles == frozenset({"User.Read.All"})
    assert credential.method == "secret"


async def test_tokens_are_cached_per_tenant_and_scope(entra: EntraEmulator) -> None:
    app_id = _app_id(102)
    entra.register_app(app_id, tenant=TENANT, secret="right-secret")
    credential = MsalAppCredential(_settings(entra, app_id))
    await credential.get_token(SCOPE)
    await credential.get_token(SCOPE)
    credential.get_token_sync("https://api.botframework.com")
    assert entra.token_requests(app_id) == 2


async def test_concurrent_callers_share_one_refresh(entra: EntraEmulator) -> None:
    app_id = _app_id(103)
    entra.register_app(app_id, tenant=TENANT, secret="right-secret")
    credential = MsalAppCredential(_settings(entra, app_id))
    tokens = await asyncio.gather(*(credential.get_token(SCOPE) for _ in range(8)))
    assert len({t.token for t in tokens}) == 1
    assert entra.token_requests(app_id) == 1


async def test_a_token_near_expiry_is_refreshed_ahead_of_time(entra: EntraEmulator) -> None:
    app_id = _app_id(104)
    entra.register_app(app_id, tenant=TENANT, secret="right-secret", expires_in=120)  # inside the 5-minute margin
    credential = MsalAppCredential(_settings(entra, app_id))
    await credential.get_token(SCOPE)
    await credential.get_token(SCOPE)
    assert entra.token_requests(app_id) >= 2


async def test_a_wrong_secret_is_a_clear_error_without_the_secret(entra: EntraEmulator) -> None:
    app_id = _app_id(105)
    entra.register_app(app_id, tenant=TENANT, secret="right-secret")
    credential = MsalAppCredential(_settings(entra, app_id, app_password="wrong-secret-value"))
    with pytest.raises(CredentialError) as caught:
        await credential.get_token(SCOPE)
    assert caught.value.code == "AADSTS7000215"
    assert "wrong-secret-value" not in str(caught.value)


async def test_a_certificate_credential_is_verified_by_entra(entra: EntraEmulator, tmp_path: Path) -> None:
    app_id = _app_id(106)
    files = generate_certificate(tmp_path, common_name="Courier test")
    entra.register_app(app_id, tenant=TENANT, certificate_pem=files.certificate.read_bytes())
    settings = _settings(entra, app_id, app_password="", app_certificate_path=str(files.pem))
    credential = MsalAppCredential(settings)
    token = await credential.get_token(SCOPE)
    assert token.token and credential.method == "certificate"


async def test_a_certificate_entra_does_not_know_is_refused(entra: EntraEmulator, tmp_path: Path) -> None:
    app_id = _app_id(107)
    uploaded = generate_certificate(tmp_path / "uploaded")
    other = generate_certificate(tmp_path / "other")
    entra.register_app(app_id, tenant=TENANT, certificate_pem=uploaded.certificate.read_bytes())
    credential = MsalAppCredential(_settings(entra, app_id, app_password="", app_certificate_path=str(other.pem)))
    with pytest.raises(CredentialError) as caught:
        await credential.get_token(SCOPE)
    assert caught.value.code == "AADSTS700027"


def test_cert_new_writes_a_private_key_only_the_owner_can_read(tmp_path: Path) -> None:
    files = generate_certificate(tmp_path)
    for private in (files.key, files.pem):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"PRIVATE KEY" not in files.certificate.read_bytes()
    assert len(files.thumbprint_sha1) == 40


def test_cert_new_cli_prints_the_thumbprint_and_never_the_key(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, str(root / "app.py"), "cert", "new", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "Thumbprint (SHA-1):" in result.stdout and "Upload" in result.stdout
    assert "PRIVATE KEY" not in result.stdout + result.stderr
