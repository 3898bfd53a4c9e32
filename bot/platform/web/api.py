"""What every JSON endpoint of Courier's HTTP API shares: the error body, and "who is calling, may they?".

Errors are ``{"error": {"status", "message", "field"?}}``. :func:`caller_or_problem` authenticates a request
(:class:`~bot.platform.access.CallerAuth`) and, for sender endpoints, refuses people without the sender
or admin role with 403.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.platform.access import Caller, Refused
from bot.platform.http import BodyRefused, parse_json, problem, read_body
from bot.platform.services import Services

__all__ = ["MAX_JSON_BYTES", "caller_or_problem", "json_body", "problem"]

MAX_JSON_BYTES = 64 * 1024


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
    """The request's JSON object (read whole, at most 64 levels deep, no NUL: :func:`read_json_body`), an empty
    object for an empty body, or the 400/413 answer."""
    try:
        raw = await read_body(request, limit)
        return parse_json(raw) if raw.strip() else {}
    except BodyRefused as refused:
        return refused.response()
