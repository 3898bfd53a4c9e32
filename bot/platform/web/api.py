"""What every JSON endpoint of Courier's HTTP API shares: the error body, and "who is calling, may they?".

Errors are ``{"error": {"status", "message", "field"?}}``. :func:`caller_or_problem` authenticates a request
(:class:`~bot.platform.access.CallerAuth`) and, for sender endpoints, refuses people without the sender
or admin role with 403.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.platform.access import Caller, Refused
from bot.platform.services import Services

MAX_JSON_BYTES = 64 * 1024


def problem(status: int, message: str, field: str | None = None) -> web.Response:
    error: dict[str, Any] = {"status": status, "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status, headers={"Cache-Control": "no-store"})


async def caller_or_problem(services: Services, request: web.Request, *, sender: bool = False) -> Caller | web.Response:
    """The authenticated caller, or the 401/403 answer; ``sender=True`` also requires the right to send."""
    try:
        caller = await services.auth.authenticate(request)
    except Refused as exc:
        return problem(exc.status, exc.message)
    if sender and not caller.may_send:
        return problem(403, "only senders may do this: ask your Courier admin to add you to the senders")
    return caller


async def json_body(request: web.Request, limit: int = MAX_JSON_BYTES) -> dict[str, Any] | web.Response:
    """The request's JSON object, or the 400/413 answer."""
    if request.content_length is not None and request.content_length > limit:
        return problem(413, f"the request is larger than {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        return problem(413, f"the request is larger than {limit} bytes")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return problem(400, "the body is not JSON", "body")
    if not isinstance(body, dict):
        return problem(400, "the body must be a JSON object", "body")
    return body
