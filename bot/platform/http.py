"""HTTP at Courier's edges: TLS for its own aiohttp clients, and the one reader of inbound JSON bodies.

TLS: the system's CAs plus ``COURIER_CA_BUNDLE`` (MSAL and botbuilder's connector use ``requests``, which reads
``REQUESTS_CA_BUNDLE`` itself).

Inbound JSON (``/api/messages``, ``/api/notifications``, ``/api/graph/notifications``): :func:`read_json_body` reads
the whole body (chunked or not) up to a size, parses it, and refuses, with a 4xx saying why, anything nested deeper
than :data:`MAX_JSON_DEPTH` levels or holding a NUL character (PostgreSQL cannot store one in text, and no Microsoft
service or honest caller sends one). Nothing past it sees a body it refused.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

from aiohttp import web

from bot.platform.settings import Settings

MAX_JSON_DEPTH = 64


def client_ssl_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_bundle:
        context.load_verify_locations(cafile=settings.ca_bundle)
    return context


def problem(status: int, message: str, field: str | None = None) -> web.Response:
    """The JSON error answer every endpoint gives: ``{"error": {"status", "message", "field"?}}``."""
    error: dict[str, Any] = {"status": status, "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status, headers={"Cache-Control": "no-store"})


class BodyRefused(Exception):
    """Why a body was refused, as the answer to give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> web.Response:
        return problem(self.status, self.message, "body")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, chunked or not, at most ``limit`` bytes (413 past it, read no further)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyRefused(413, f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > limit:
            raise BodyRefused(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes | str, *, depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """A JSON object from ``raw``, at most ``depth`` levels deep and without NUL characters; BodyRefused (400)
    otherwise."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BodyRefused(400, "the body is nested too deeply") from None
    except ValueError as exc:
        raise BodyRefused(400, f"the body is not JSON: {str(exc)[:120]}") from None
    if not isinstance(body, dict):
        raise BodyRefused(400, "the body must be a JSON object")
    why = _unsafe(body, depth)
    if why is not None:
        raise BodyRefused(400, why)
    return body


async def read_json_body(request: web.Request, limit: int, *, depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """The request's JSON object (see :func:`parse_json`), read whole up to ``limit`` bytes; BodyRefused otherwise."""
    return parse_json(await read_body(request, limit), depth=depth)


def nested_within(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels of objects and arrays (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return False
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return True


def _unsafe(value: Any, limit: int) -> str | None:
    """Why ``value`` may not go further (too deep, a NUL character), or None; walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "the body holds a NUL character"
            continue
        if isinstance(item, dict | list) and level > limit:
            return f"the body is nested deeper than {limit} levels"
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return "the body holds a NUL character"
                stack.append((child, level + 1))
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return None
