"""Courier's settings: one typed, frozen object read once from the environment (and an optional ``.env``).

Nothing else in Courier reads the environment. Bot Framework names are kept where they exist
(``MicrosoftAppId`` ...); Courier's own settings are prefixed ``COURIER_``. Every Microsoft endpoint is a
setting so the whole bot can run against local emulators.

A missing or malformed setting raises :class:`SettingsError`, whose message is one line naming the setting.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from bot.platform.zones import valid_zone

logger = logging.getLogger(__name__)

PUBLIC_BOT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_EMULATOR_OPENID_METADATA_URL = "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
PUBLIC_BOT_TOKEN_ISSUER = "https://api.botframework.com"  # noqa: S105 - a URL, not a secret
PUBLIC_BOT_OAUTH_SCOPE = "https://api.botframework.com"
PUBLIC_LOGIN_AUTHORITY_HOST = "https://login.microsoftonline.com"
LOCAL_HOST = "127.0.0.1"  # where local (anonymous) mode listens unless HOST is set
PUBLIC_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
PUBLIC_BOT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"

DEFAULT_DELEGATED_SCOPES = ("User.Read", "Calendars.ReadWrite", "OnlineMeetings.ReadWrite", "offline_access")


class SettingsError(ValueError):
    """A setting is missing or malformed. ``str(err)`` is one line that names the setting."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"setting {name} {problem}")
        self.name = name


class AppType(StrEnum):
    SINGLE_TENANT = "SingleTenant"
    MULTI_TENANT = "MultiTenant"
    USER_ASSIGNED_MSI = "UserAssignedMSI"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Courier can be configured with. Build it with :func:`load_settings`."""

    # Bot Framework names.
    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: AppType = AppType.SINGLE_TENANT
    app_tenant_id: str = ""

    # Server.
    # A bot with an app id listens on every interface behind its HTTPS front; without one (local, anonymous mode) it
    # listens on loopback unless HOST says otherwise (see load_settings).
    host: str = "0.0.0.0"  # noqa: S104
    port: int = 3978
    public_url: str = ""

    # Storage.
    database_url: str = "sqlite:///courier.db"

    # Microsoft endpoints (public cloud by default; tests point them at local emulators).
    bot_openid_metadata_url: str = PUBLIC_BOT_OPENID_METADATA_URL
    emulator_openid_metadata_url: str = PUBLIC_EMULATOR_OPENID_METADATA_URL
    bot_token_issuer: str = PUBLIC_BOT_TOKEN_ISSUER
    bot_oauth_scope: str = PUBLIC_BOT_OAUTH_SCOPE
    login_authority_host: str = PUBLIC_LOGIN_AUTHORITY_HOST
    graph_base_url: str = PUBLIC_GRAPH_BASE_URL
    bot_service_url: str = PUBLIC_BOT_SERVICE_URL

    # App-only credential alternatives to the client secret.
    app_certificate_path: str = ""
    managed_identity_client_id: str = ""

    # Extra CA certificates Courier's own HTTPS clients trust (a corporate proxy's CA, or a test CA).
    ca_bundle: str = ""

    # Delegated sign-in and secrets at rest.
    encryption_key: str = field(default="", repr=False)
    delegated_scopes: tuple[str, ...] = DEFAULT_DELEGATED_SCOPES

    # Teams app package.
    teams_app_id: str = ""
    teams_catalog_app_id: str = ""  # the app's id in the tenant's catalog (looked up by manifest id when empty)
    app_name: str = "Courier"

    # Outreach.
    api_key_hashes: frozenset[str] = field(default=frozenset(), repr=False)  # SHA-256 of COURIER_API_KEYS
    senders: frozenset[str] = frozenset()  # AAD object ids allowed to send announcements from Teams
    senders_group: str = ""  # an Entra group whose (transitive) members are senders too (the console)
    admins: frozenset[str] = frozenset()  # AAD object ids who see and act on every notification
    admins_group: str = ""  # an Entra group whose (transitive) members are admins too
    outreach_rps: float = 30.0
    default_time_zone: str = "UTC"  # local-time sends to people whose zone Courier does not know
    connector_timeout_seconds: float = 30.0  # one Bot Connector request, connection to answer
    # Signs the click-tracking links in notifications (``/l/{token}``); derived from encryption_key when empty.
    link_signing_key: str = field(default="", repr=False)

    # Reminders.
    reminder_max_lateness: timedelta = timedelta(hours=24)

    # Insights.
    insights_retention_days: int = 90

    # Telemetry: OTLP/HTTP export of traces and metrics when set (e.g. http://collector:4318).
    otel_exporter_otlp_endpoint: str = ""
    # Rooms watched (Teams Rooms devices): an alert once a room's account has been Offline this long; presence is
    # read every room_check_seconds (one request per 650 rooms).
    room_offline_minutes: int = 5
    room_check_seconds: int = 30

    # Behaviour.
    allowed_tenants: frozenset[str] = frozenset()
    dedupe_ttl_seconds: int = 24 * 3600
    log_level: str = "INFO"
    log_format: str = "json"
    shutdown_grace_seconds: float = 15.0
    concurrent_message_turns: int = 32  # invokes are never held back (see bot/platform/teams/admission.py)

    # Unsafe switches: off by default, warned about at start.
    dangerously_allow_anonymous: bool = False
    # With an app id, accept inbound requests without a Bot Framework token (local emulators such as the Agents
    # Playground send none) while Courier still signs in to Entra and Graph as itself.
    dangerously_skip_inbound_auth: bool = False

    @property
    def anonymous(self) -> bool:
        """True when the bot runs without an app id (only possible with the dangerous flag)."""
        return not self.app_id

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def manifest_app_id(self) -> str:
        """The Teams app id in the manifest: ``COURIER_TEAMS_APP_ID``, else the bot's app id."""
        return self.teams_app_id or self.app_id

    def tenant_allowed(self, tenant_id: str | None) -> bool:
        if not self.allowed_tenants:
            return True
        return bool(tenant_id) and (tenant_id or "").lower() in self.allowed_tenants


# --------------------------------------------------------------------------------------------------------
# Parsing


_T = TypeVar("_T")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _guid(name: str, value: str) -> str:
    if not _GUID.match(value):
        raise SettingsError(name, f"is malformed: expected a GUID like {uuid.UUID(int=0)}, got {value!r}")
    return value.lower()


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(name, f"is malformed: expected 1/0, true/false, yes/no or on/off, got {value!r}")


def _int_between(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(name, f"is malformed: expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise SettingsError(name, f"is out of range: expected {low} to {high}, got {number}")
        return number

    return parse


def _float_between(low: float, high: float) -> Callable[[str, str], float]:
    def parse(name: str, value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(name, f"is malformed: expected a number, got {value!r}") from None
        if not low <= number <= high:
            raise SettingsError(name, f"is out of range: expected {low} to {high}, got {number}")
        return number

    return parse


def _url(*schemes: str) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            wanted = " or ".join(f"{s}://" for s in schemes)
            raise SettingsError(name, f"is malformed: expected a {wanted} URL, got {value!r}")
        return value

    return parse


def _time_zone(name: str, value: str) -> str:
    zone = value.strip()
    if valid_zone(zone) is None:
        raise SettingsError(name, f"is not a time zone this system knows (an IANA name like Europe/Paris): {value!r}")
    return zone


def _database_url(name: str, value: str) -> str:
    if value.startswith("sqlite:///") or value == "sqlite://:memory:":
        return value
    if value.startswith(("postgresql://", "postgres://")):
        return value
    raise SettingsError(name, f"is malformed: expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB, got {value!r}")


def _duration(name: str, value: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``2d`` or plain seconds; from one minute to 30 days."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value)
    if not match:
        raise SettingsError(name, f"is malformed: expected a duration such as 30m, 24h or 2d, got {value!r}")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    seconds = int(match.group(1)) * unit
    if not 60 <= seconds <= 30 * 86400:
        raise SettingsError(name, f"must be between 1 minute and 30 days, got {value!r}")
    return timedelta(seconds=seconds)


def _app_type(name: str, value: str) -> AppType:
    for member in AppType:
        if member.value.lower() == value.lower():
            return member
    allowed = ", ".join(m.value for m in AppType)
    raise SettingsError(name, f"is malformed: expected one of {allowed}, got {value!r}")


def _tenants(name: str, value: str) -> frozenset[str]:
    items = [item.strip() for item in re.split(r"[,\s]+", value) if item.strip()]
    return frozenset(_guid(name, item) for item in items)


MAX_ID_LENGTH = 200


def _user_ids(name: str, value: str) -> frozenset[str]:
    """People's ids, separated by commas or spaces: Entra object ids in Teams, any other non-empty id where the
    client is not Teams (the Agents Playground's user is ``00000000-0000-0000-0000-0000000000020``). An id holds no
    whitespace or comma (they separate ids) and no control character; compared in lower case."""
    ids = [item for item in re.split(r"[,\s]+", value) if item]
    for item in ids:
        if len(item) > MAX_ID_LENGTH or not item.isprintable():
            raise SettingsError(name, f"is malformed: {item[:40]!r} is not a user id (printable, at most 200 chars)")
    return frozenset(item.lower() for item in ids)


def _scopes(name: str, value: str) -> tuple[str, ...]:
    scopes = tuple(s for s in re.split(r"[,\s]+", value) if s)
    if not scopes:
        raise SettingsError(name, "is empty: expected space-separated scopes")
    return scopes


def _api_keys(name: str, value: str) -> frozenset[str]:
    keys = [k.strip() for k in value.split(",") if k.strip()]
    for key in keys:
        if len(key) < 24:
            raise SettingsError(name, "holds a key shorter than 24 characters; use long random keys")
    return frozenset(hashlib.sha256(k.encode("utf-8")).hexdigest() for k in keys)


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        if value.lower() not in allowed:
            raise SettingsError(name, f"is malformed: expected one of {', '.join(allowed)}, got {value!r}")
        return value.lower()

    return parse


def _log_level(name: str, value: str) -> str:
    upper = value.upper()
    if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingsError(name, f"is malformed: expected DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return upper


def _text(name: str, value: str) -> str:
    return value.strip()


def _existing_file(name: str, value: str) -> str:
    if not Path(value).is_file():
        raise SettingsError(name, f"names a file that does not exist: {value!r}")
    return value


def _encryption_key(name: str, value: str) -> str:
    # Validated for shape here; bot/platform/identity turns it into a cipher. 32 bytes of entropy at least.
    stripped = value.strip()
    if len(stripped) < 32:
        raise SettingsError(
            name,
            "is too short: expected at least 32 characters "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')",
        )
    return stripped


# (environment name, dataclass field, parser)
_SPEC: tuple[tuple[str, str, Callable[[str, str], object]], ...] = (
    ("MicrosoftAppId", "app_id", lambda n, v: _guid(n, v) if v.strip() else ""),
    ("MicrosoftAppPassword", "app_password", lambda _n, v: v),
    ("MicrosoftAppType", "app_type", _app_type),
    ("MicrosoftAppTenantId", "app_tenant_id", lambda n, v: _guid(n, v) if v.strip() else ""),
    ("HOST", "host", _text),
    ("PORT", "port", _int_between(1, 65535)),
    ("COURIER_PUBLIC_URL", "public_url", _url("https", "http")),
    ("COURIER_DATABASE_URL", "database_url", _database_url),
    ("COURIER_BOT_OPENID_METADATA_URL", "bot_openid_metadata_url", _url("https", "http")),
    ("COURIER_EMULATOR_OPENID_METADATA_URL", "emulator_openid_metadata_url", _url("https", "http")),
    ("COURIER_BOT_TOKEN_ISSUER", "bot_token_issuer", _url("https", "http")),
    ("COURIER_BOT_OAUTH_SCOPE", "bot_oauth_scope", _url("https", "http", "api")),
    ("COURIER_LOGIN_AUTHORITY_HOST", "login_authority_host", _url("https")),
    ("COURIER_GRAPH_BASE_URL", "graph_base_url", _url("https", "http")),
    ("COURIER_BOT_SERVICE_URL", "bot_service_url", _url("https", "http")),
    ("COURIER_APP_CERTIFICATE_PATH", "app_certificate_path", _existing_file),
    ("COURIER_MANAGED_IDENTITY_CLIENT_ID", "managed_identity_client_id", _guid),
    ("COURIER_CA_BUNDLE", "ca_bundle", _existing_file),
    ("COURIER_ENCRYPTION_KEY", "encryption_key", _encryption_key),
    ("COURIER_DELEGATED_SCOPES", "delegated_scopes", _scopes),
    ("COURIER_TEAMS_APP_ID", "teams_app_id", _guid),
    ("COURIER_TEAMS_CATALOG_APP_ID", "teams_catalog_app_id", _guid),
    ("COURIER_APP_NAME", "app_name", _text),
    ("COURIER_ALLOWED_TENANTS", "allowed_tenants", _tenants),
    ("COURIER_API_KEYS", "api_key_hashes", _api_keys),
    ("COURIER_SENDERS", "senders", _user_ids),
    ("COURIER_SENDERS_GROUP", "senders_group", _guid),
    ("COURIER_ADMINS", "admins", _user_ids),
    ("COURIER_ADMINS_GROUP", "admins_group", _guid),
    ("COURIER_OUTREACH_RPS", "outreach_rps", _float_between(1, 50)),
    ("COURIER_DEFAULT_TIME_ZONE", "default_time_zone", _time_zone),
    ("COURIER_CONNECTOR_TIMEOUT_SECONDS", "connector_timeout_seconds", _float_between(1, 300)),
    ("COURIER_LINK_SIGNING_KEY", "link_signing_key", _encryption_key),
    ("COURIER_REMINDER_MAX_LATENESS", "reminder_max_lateness", _duration),
    ("COURIER_INSIGHTS_RETENTION_DAYS", "insights_retention_days", _int_between(1, 3650)),
    ("COURIER_ROOM_OFFLINE_MINUTES", "room_offline_minutes", _int_between(1, 24 * 60)),
    ("COURIER_ROOM_CHECK_SECONDS", "room_check_seconds", _int_between(10, 3600)),
    ("COURIER_DEDUPE_TTL_SECONDS", "dedupe_ttl_seconds", _int_between(60, 30 * 24 * 3600)),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint", _url("https", "http")),
    ("COURIER_LOG_LEVEL", "log_level", _log_level),
    ("COURIER_LOG_FORMAT", "log_format", _choice("json", "text")),
    ("COURIER_SHUTDOWN_GRACE_SECONDS", "shutdown_grace_seconds", _float_between(0, 600)),
    ("COURIER_CONCURRENT_MESSAGE_TURNS", "concurrent_message_turns", _int_between(1, 10_000)),
    ("COURIER_DANGEROUSLY_ALLOW_ANONYMOUS", "dangerously_allow_anonymous", _bool),
    ("COURIER_DANGEROUSLY_SKIP_INBOUND_AUTH", "dangerously_skip_inbound_auth", _bool),
)

ENVIRONMENT_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _SPEC)


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=VALUE`` lines, ``#`` comments, optional quotes and ``export``."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}:{number}", "is not a KEY=VALUE line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(environ: Mapping[str, str], dotenv: Path | None = Path(".env")) -> Settings:
    """Build :class:`Settings` from ``environ`` (which wins) over an optional ``.env`` file.

    Raises :class:`SettingsError` naming the first missing or malformed setting.
    """
    merged: dict[str, str] = dict(read_dotenv(dotenv)) if dotenv is not None else {}
    merged.update(environ)

    values: dict[str, object] = {}
    for env_name, attr, parse in _SPEC:
        raw = merged.get(env_name)
        if raw is None or (raw.strip() == "" and attr not in {"app_password"}):
            continue
        values[attr] = parse(env_name, raw)

    settings = Settings(**values)  # type: ignore[arg-type]
    if "host" not in values and not settings.app_id:
        settings = replace(settings, host=LOCAL_HOST)  # anonymous mode is for this machine only
    _check_consistency(settings)
    _check_delegated(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    if not s.app_id and not s.dangerously_allow_anonymous:
        raise SettingsError(
            "MicrosoftAppId",
            "is missing: set the bot's Entra app id, or COURIER_DANGEROUSLY_ALLOW_ANONYMOUS=1 "
            "for a local emulator only",
        )
    if s.app_id:
        if s.app_type is AppType.SINGLE_TENANT and not s.app_tenant_id:
            raise SettingsError("MicrosoftAppTenantId", "is missing: a SingleTenant bot needs its tenant's id")
        if s.app_type is AppType.USER_ASSIGNED_MSI:
            if not s.app_tenant_id:
                raise SettingsError("MicrosoftAppTenantId", "is missing: a UserAssignedMSI bot needs its tenant's id")
        elif not s.app_password and not s.app_certificate_path:
            raise SettingsError(
                "MicrosoftAppPassword",
                "is missing: set a client secret, or COURIER_APP_CERTIFICATE_PATH for a certificate",
            )


def _check_delegated(s: Settings) -> None:
    if s.app_id and s.public_url and not s.encryption_key:
        raise SettingsError(
            "COURIER_ENCRYPTION_KEY",
            "is missing: delegated sign-in (COURIER_PUBLIC_URL is set) stores users' tokens encrypted with it; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )


def describe(settings: Settings) -> dict[str, str]:
    """Settings as printable strings with secrets masked (for logs and ``doctor``)."""
    secret = {"app_password", "encryption_key", "api_key_hashes", "link_signing_key"}
    out: dict[str, str] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name in secret:
            out[f.name] = "(set)" if value else "(unset)"
        elif isinstance(value, frozenset | tuple):
            out[f.name] = " ".join(sorted(str(v) for v in value))
        else:
            out[f.name] = str(value)
    return out
