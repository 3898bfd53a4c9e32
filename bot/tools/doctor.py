"""``python app.py doctor``: one line per check, with a fix for each failure. Exit 0 only when all required pass."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import aiohttp

from bot.platform.http import client_ssl_context
from bot.platform.identity.credentials import AppCredential, CredentialError, credential_from_settings
from bot.platform.identity.permissions import missing_roles
from bot.platform.settings import Settings, describe
from bot.platform.storage import StorageError, open_store
from bot.platform.storage.migrate import PLATFORM_MIGRATIONS, discover

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)
GRAPH_RESOURCE = "https://graph.microsoft.com"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)

    def render(self) -> str:
        width = max((len(c.name) for c in self.checks), default=10)
        lines = []
        for c in self.checks:
            lines.append(f"[{c.status.value:>4}] {c.name:<{width}}  {c.detail}")
            if c.fix and c.status in {Status.FAIL, Status.WARN}:
                lines.append(f"       {'':<{width}}  fix: {c.fix}")
        failed = sum(c.status is Status.FAIL for c in self.checks)
        lines.append("")
        lines.append("All required checks passed." if failed == 0 else f"{failed} required check(s) failed.")
        return "\n".join(lines)


async def _fetch_json(session: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with session.get(url) as response:
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, None


async def run_doctor(settings: Settings, *, migrations: Sequence[Path] = ()) -> DoctorReport:
    report = DoctorReport()
    add = report.checks.append
    mode = (
        "anonymous (local emulator only)" if settings.anonymous else f"{settings.app_type.value}, app {settings.app_id}"
    )
    add(Check("settings", Status.OK, f"well-formed; {mode}; {len(describe(settings))} settings read"))
    if settings.dangerously_allow_anonymous:
        add(
            Check(
                "anonymous mode",
                Status.WARN if settings.anonymous else Status.OK,
                "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS is on",
                "turn it off outside a local emulator",
            )
        )

    await _check_storage(settings, add, migrations)

    connector = aiohttp.TCPConnector(ssl=client_ssl_context(settings))
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT, connector=connector) as session:
        await _check_endpoint(
            "bot OpenID metadata",
            settings.bot_openid_metadata_url,
            session,
            add=add,
            valid=lambda body: isinstance(body, dict) and "jwks_uri" in body,
            setting="COURIER_BOT_OPENID_METADATA_URL",
        )
        if not settings.anonymous:
            tenant = settings.app_tenant_id or "botframework.com"
            await _check_endpoint(
                "login authority",
                f"{settings.login_authority_host.rstrip('/')}/{tenant}/v2.0/.well-known/openid-configuration",
                session,
                add=add,
                valid=lambda body: isinstance(body, dict) and "token_endpoint" in body,
                setting="COURIER_LOGIN_AUTHORITY_HOST and MicrosoftAppTenantId",
            )
        await _check_reachable("Microsoft Graph", settings.graph_base_url, session, add)

    credential = None
    if settings.anonymous:
        add(Check("bot token", Status.SKIP, "anonymous mode has no app credential"))
    else:
        try:
            credential = credential_from_settings(settings)
        except CredentialError as exc:
            add(Check("app credential", Status.FAIL, str(exc), "check COURIER_APP_CERTIFICATE_PATH"))
    if credential is not None:
        await _check_tokens(settings, credential, add)

    _check_manifest(settings, add)
    if settings.encryption_key:
        add(Check("encryption key", Status.OK, "COURIER_ENCRYPTION_KEY is set (tokens at rest are encrypted)"))
    else:
        add(
            Check(
                "encryption key",
                Status.WARN,
                "COURIER_ENCRYPTION_KEY is not set: delegated sign-in (meetings) stays off",
                "python -c 'import secrets; print(secrets.token_urlsafe(32))' and set COURIER_ENCRYPTION_KEY",
            )
        )
    return report


async def _check_storage(settings: Settings, add: Callable[[Check], None], migrations: Sequence[Path]) -> None:
    try:
        store = await open_store(settings.database_url, migrations=migrations)
    except (StorageError, OSError) as exc:
        add(Check("storage", Status.FAIL, str(exc), "check COURIER_DATABASE_URL and that the database is running"))
        return
    try:
        version = await store.schema_version()
        latest = max((m.version for m in discover(store.db.dialect, (*PLATFORM_MIGRATIONS, *migrations))), default=0)
        backend = "SQLite" if settings.is_sqlite else "PostgreSQL"
        if version >= latest:
            add(Check("storage", Status.OK, f"{backend} reachable, schema at version {version}"))
        else:
            add(
                Check(
                    "storage", Status.FAIL, f"schema at {version}, expected {latest}", "start Courier once to migrate"
                )
            )
    finally:
        await store.close()


async def _check_endpoint(
    name: str,
    url: str,
    session: aiohttp.ClientSession,
    *,
    add: Callable[[Check], None],
    valid: Callable[[object], bool],
    setting: str,
) -> None:
    try:
        status, body = await _fetch_json(session, url)
    except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
        add(Check(name, Status.FAIL, f"{url} unreachable: {type(exc).__name__}", f"check {setting} and the network"))
        return
    if status == 200 and valid(body):
        add(Check(name, Status.OK, url))
    else:
        add(Check(name, Status.FAIL, f"{url} answered {status} without the expected document", f"check {setting}"))


async def _check_reachable(name: str, url: str, session: aiohttp.ClientSession, add: Callable[[Check], None]) -> None:
    try:
        async with session.get(url) as response:
            add(Check(name, Status.OK, f"{url} answers (HTTP {response.status})"))
    except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
        add(Check(name, Status.FAIL, f"{url} unreachable: {type(exc).__name__}", "check COURIER_GRAPH_BASE_URL"))


async def _check_tokens(settings: Settings, credential: AppCredential, add: Callable[[Check], None]) -> None:
    async def token(name: str, scope: str) -> frozenset[str] | None:
        try:
            result = await credential.get_token(scope)
        except CredentialError as exc:
            fix = {
                "AADSTS7000215": "the client secret is wrong or expired: create a new one and set MicrosoftAppPassword",
                "AADSTS700016": "the app is not registered in this tenant: check MicrosoftAppId, MicrosoftAppTenantId",
                "AADSTS90002": "the tenant does not exist: check MicrosoftAppTenantId",
                "AADSTS700027": "the certificate is not the one uploaded to the app registration",
            }.get(exc.code or "", "check the app registration and its credential")
            add(Check(name, Status.FAIL, str(exc), fix))
            return None
        add(Check(name, Status.OK, f"obtained with {credential.method}"))
        return result.roles

    await token("bot token", settings.bot_oauth_scope)
    roles = await token("Graph token", GRAPH_RESOURCE)
    if roles is None:
        return
    missing = missing_roles(roles)
    if missing:
        names = ", ".join(p.name for p in missing)
        add(
            Check(
                "Graph roles",
                Status.WARN,
                f"not granted: {names} (optional features degrade; see `permissions`)",
                "an admin grants them in Entra (API permissions > Grant admin consent) or via /admin/consent",
            )
        )
    else:
        add(Check("Graph roles", Status.OK, "every application permission Courier uses is granted"))


def _check_manifest(settings: Settings, add: Callable[[Check], None]) -> None:
    from bot.platform.version import VERSION
    from bot.tools.packaging import PackagingError, render_manifest

    if settings.anonymous:
        add(Check("Teams manifest", Status.SKIP, "anonymous mode: no package to build"))
        return
    try:
        manifest = render_manifest(settings, [], version=VERSION)
    except PackagingError as exc:
        add(Check("Teams manifest", Status.WARN, str(exc), "set it before building the Teams app package"))
        return
    bot_ids = {b.get("botId") for b in manifest.get("bots", [])}
    if bot_ids != {settings.app_id}:
        add(Check("Teams manifest", Status.FAIL, f"botId {bot_ids} differs from MicrosoftAppId", "rebuild the package"))
    else:
        add(Check("Teams manifest", Status.OK, f"bot {settings.app_id} on {manifest['validDomains'][0]}"))


def run_doctor_sync(settings: Settings) -> DoctorReport:
    return asyncio.run(run_doctor(settings))


__all__ = ["Check", "DoctorReport", "Status", "run_doctor", "run_doctor_sync"]
