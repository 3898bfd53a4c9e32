"""Guards every feature can put on a route (see :mod:`bot.platform.turns.context`).

Authorization reads the inbound activity's ``from.aadObjectId``, never a value a card sends back.
"""

from __future__ import annotations

from typing import Any

from bot.platform.i18n import _
from bot.platform.turns.context import Context, Refusal


def _sender(ctx: Context[Any]) -> str:
    return (ctx.activity.sender.aad_object_id or "").lower()


async def senders_only(ctx: Context[Any]) -> Refusal | None:
    """Only the people listed in ``COURIER_SENDERS`` (everyone, when it is empty) and admins (``COURIER_ADMINS``)."""
    settings = ctx.services.settings
    if not settings.senders or _sender(ctx) in settings.senders | settings.admins:
        return None
    return Refusal(_("Only announcement senders can do that"), _("Ask your Courier admin to add you."))


async def listed_senders_only(ctx: Context[Any]) -> Refusal | None:
    """Only the people listed in ``COURIER_SENDERS`` (nobody, when it is empty)."""
    if _sender(ctx) in ctx.services.settings.senders:
        return None
    return Refusal(
        _("Only announcement senders can do this"), _("Ask your Courier admin to add you to COURIER_SENDERS.")
    )


async def delegated_sign_in(ctx: Context[Any]) -> Refusal | None:
    """Delegated sign-in must be configured here (a public URL and an encryption key)."""
    identity = ctx.services.identity
    if identity is not None and identity.delegated is not None:
        return None
    return Refusal(
        _("Sign-in isn't available"),
        _("This Courier runs without a public URL or app registration, so it can't sign you in."),
    )
