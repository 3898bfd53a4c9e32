"""The sign-in card any feature can answer with when it needs to act as the person (delegated Graph)."""

from __future__ import annotations

from bot.platform.i18n import _
from bot.platform.identity.delegated import UserRef
from bot.platform.services import Services
from bot.platform.teams.turn import Message, Turn


def sign_in_unavailable(app_name: str) -> str:
    """What people are told wherever sign-in (and so meetings) is not set up here: one wording, in their words, that
    sends them to an admin and never to ``signin``."""
    return _(
        "Meetings need your organisation's Microsoft sign-in, and an admin hasn't set it up for {app} yet. "
        "Ask whoever runs it. Reminders, announcements and insights work without it.",
        app=app_name,
    )


def signed_in_user(turn: Turn) -> UserRef | None:
    """The person of this turn as delegated sign-in knows them (tenant and Entra object id), if Teams said."""
    a = turn.activity
    if not a.tenant_id or not a.sender.aad_object_id:
        return None
    return UserRef(a.tenant_id, a.sender.aad_object_id.lower())


async def signin_card(services: Services, turn: Turn, reason: str) -> Message | None:
    """The sign-in card for this user, or None when sign-in is unavailable here."""
    identity = services.identity
    user = signed_in_user(turn)
    if identity is None or identity.delegated is None or user is None:
        return None
    url = await identity.delegated.begin(user, turn.activity.conversation_root)
    card = services.cards.render("signin", {"app_name": services.settings.app_name, "reason": reason, "url": url})
    return Message(text=_("Sign in to continue"), card=card)
