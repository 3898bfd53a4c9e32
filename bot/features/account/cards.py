"""The ``permissions`` and ``consent_request`` cards, from the report and the links they show."""

from __future__ import annotations

from typing import Any

from bot.features.account.service import PermissionGroup, PermissionsReport
from bot.platform.cards import CardRenderer
from bot.platform.i18n import N_, _

FEATURE_TITLES = {
    "outreach": N_("Outreach"),
    "reminders": N_("Reminders"),
    "meetings": N_("Meetings"),
    "insights": N_("Insights"),
}


def permissions_card(
    cards: CardRenderer, app_name: str, report: PermissionsReport, consent_url: str | None
) -> dict[str, Any]:
    """``consent_url``: the admin consent link, offered when something is missing and consent is possible."""
    return cards.render(
        "permissions",
        {
            "app_name": app_name,
            "summary": report.summary,  # in the person's language already
            "groups": [_group(group) for group in report.groups],
            "consent_url": consent_url,
        },
    )


def _group(group: PermissionGroup) -> dict[str, Any]:
    return {
        "title": _(FEATURE_TITLES.get(group.title, group.title)),
        "permissions": [
            {
                "name": line.permission.name,
                "type": _(line.permission.type.value),
                "optional": line.permission.optional,
                "state": line.grant.value,
                "why": _(line.permission.why),
                "without": _(line.permission.without),
            }
            for line in group.lines
        ],
    }


def consent_request_card(cards: CardRenderer, app_name: str, url: str) -> dict[str, Any]:
    return cards.render("consent_request", {"app_name": app_name, "url": url})
