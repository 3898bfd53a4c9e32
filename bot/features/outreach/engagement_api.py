"""Engagement over HTTP: the ``engagement`` part of a notification's status, the recipients' engagement columns and
filters (listing and CSV), and the click redirect ``GET /l/{token}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.features.outreach.engagement import EngagementService
from bot.features.outreach.links import REDIRECT_PATH
from bot.platform.messaging.engagement import Engaged, EngagementFilter, EngagementTotals

logger = logging.getLogger(__name__)

FILTERS = ("read", "clicked", "acknowledged")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = ["recipient", "state", "reason", "attempts", "sentAt", "readAt", "clickedAt", "acknowledgedAt"]


class BadFilter(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(ms: int | None) -> float | None:
    return round(ms / 1000, 3) if ms is not None else None


def engagement_json(totals: EngagementTotals) -> dict[str, Any]:
    """``engagement`` in ``GET /api/notifications/{id}``: totals, the funnel between them (each stage as a share of
    the one before and of delivered), time to read, reactions by type."""
    stages = [
        ("delivered", totals.delivered),
        ("read", totals.read),
        ("clicked", totals.clicked),
        ("acknowledged", totals.acknowledged),
    ]
    funnel = [
        {
            "stage": name,
            "count": count,
            "ofPrevious": _rate(count, stages[i - 1][1]) if i else None,
            "ofDelivered": _rate(count, totals.delivered),
        }
        for i, (name, count) in enumerate(stages)
    ]
    return {
        **dict(stages),
        "funnel": funnel,
        "timeToRead": {"medianSeconds": _seconds(totals.read_median_ms), "p90Seconds": _seconds(totals.read_p90_ms)},
        "reactions": {
            kind: {"added": added, "removed": removed, "net": added - removed}
            for kind, (added, removed) in totals.reactions.items()
        },
    }


def parse_filter(query: Mapping[str, str]) -> EngagementFilter:
    """``state=``, and ``read``, ``clicked``, ``acknowledged`` as ``true``/``false``; BadFilter names a bad one."""
    flags: dict[str, Any] = {}
    for name in FILTERS:
        raw = query.get(name)
        if raw is None or raw == "":
            flags[name] = None
            continue
        value = _BOOLEANS.get(raw.strip().lower())
        if value is None:
            raise BadFilter(name, "must be true or false")
        flags[name] = value
    return EngagementFilter(state=query.get("state") or None, **flags)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def recipient_engagement(engaged: Engaged) -> dict[str, Any]:
    """A recipient's engagement columns in the listing."""
    return {
        "sentAt": _iso(engaged.sent_at),
        "readAt": _iso(engaged.read_at),
        "clickedAt": _iso(engaged.clicked_at),
        "acknowledgedAt": _iso(engaged.acked_at),
    }


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: one starting with = + - @ (or a tab or carriage return) gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_TRIGGERS) else text


def csv_row(engaged: Engaged) -> list[str]:
    d = engaged.delivery
    columns = recipient_engagement(engaged)
    return [
        safe_cell(v)
        for v in (d.recipient_key, d.state.value, d.reason, d.attempts, *(columns[k] for k in CSV_HEADER[4:]))
    ]


def _not_found() -> web.Response:
    return web.Response(status=404, text="This link is not valid.", headers={"Cache-Control": "no-store"})


def install_redirect(app: web.Application, engagement: EngagementService) -> None:
    """``GET /l/{token}``: 302 to the stored link the signed token names (its first click recorded); 404 else."""

    async def follow(request: web.Request) -> web.StreamResponse:
        click = await engagement.click(request.match_info["token"])
        if click is None:
            logger.info("a click on an unsigned, altered or unknown link was refused")
            return _not_found()
        return web.Response(
            status=302,
            headers={"Location": click.url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    app.router.add_get(REDIRECT_PATH + "{token}", follow, allow_head=False)
