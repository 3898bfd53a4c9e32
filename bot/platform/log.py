"""Logging set-up: structured JSON lines (or text), a per-turn correlation id, no secrets.

The correlation id lives in a context variable so every log line of a turn carries it, whichever module logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")

# Anything that looks like a bearer token or a JWT is masked before it reaches a handler.
_SECRETS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9\-_.~+/]+=*|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|(client_secret|password|refresh_token|access_token|code_verifier)=([^&\s]+)"
)


def mask_secrets(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1) + "***"
        if match.group(2):
            return f"{match.group(2)}=***"
        return "***"

    return _SECRETS.sub(replace, text)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


class JsonFormatter(logging.Formatter):
    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"correlation_id", "message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "correlation_id": getattr(record, "correlation_id", "-"),
            "message": mask_secrets(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | type(None)) else mask_secrets(str(value))
        if record.exc_info:
            entry["exception"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(correlation_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botbuilder and msrest are chatty at INFO and may echo request details.
    for noisy in ("msrest", "msal", "urllib3", "azure", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The database drivers log every statement with its parameters at DEBUG (live sign-in and consent states, token
    # caches): never below INFO, whatever COURIER_LOG_LEVEL says.
    for driver in ("aiosqlite", "asyncpg"):
        logging.getLogger(driver).setLevel(max(logging.INFO, logging.getLogger().level))
