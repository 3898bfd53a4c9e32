"""``signin``, ``signout``, ``permissions`` and ``consent``: who Courier acts as, and what it may do."""

from __future__ import annotations

import logging
from typing import Any

from bot.platform.identity.credentials import CredentialError
from bot.platform.identity.permissions import CATALOGUE, FEATURES, PermissionType
from bot.platform.services import Services
from bot.platform.storage.models import ConversationKind
from bot.platform.teams.router import CommandRequest, Router
from bot.platform.teams.turn import Message, Turn
from bot.platform.turns.signin import signed_in_user, signin_card

logger = logging.getLogger(__name__)
GRAPH_RESOURCE = "https://graph.microsoft.com"


def _notice(services: Services, title: str, text: str) -> Message:
    return Message(
        text=title,
        card=services.notice(title, text),
    )


def register(router: Router, services: Services) -> None:
    settings = services.settings

    @router.command("signin", description="Sign in so I can act for you (meetings)", example="signin", group="Account")
    async def signin(turn: Turn, request: CommandRequest) -> None:
        identity = services.identity
        user = signed_in_user(turn)
        if identity is None or identity.delegated is None or user is None:
            await turn.reply(
                _notice(
                    services,
                    "Sign-in isn't available",
                    "This Courier runs without a public URL or app registration, so it can't sign you in.",
                )
            )
            return
        if await identity.delegated.is_signed_in(user):
            await turn.reply(_notice(services, "You're already signed in", "Type signout to sign out."))
            return
        message = await signin_card(services, turn, "Sign in once so I can schedule meetings for you.")
        if message is not None:
            await turn.reply(message)

    @router.command("signout", description="Forget your sign-in", example="signout", group="Account")
    async def signout(turn: Turn, request: CommandRequest) -> None:
        identity = services.identity
        user = signed_in_user(turn)
        removed = bool(identity and identity.delegated and user and await identity.delegated.sign_out(user))
        text = "I deleted your stored sign-in." if removed else "You weren't signed in."
        await turn.reply(_notice(services, "Signed out" if removed else "Nothing to sign out", text))

    @router.command(
        "permissions",
        description="What Courier may do here, what each permission is for, and what's missing",
        example="permissions",
        group="Account",
    )
    async def permissions(turn: Turn, request: CommandRequest) -> None:
        await turn.reply(Message(text="Courier's permissions", card=await permissions_card(services, turn)))

    @router.command(
        "consent",
        description="Admins: grant Courier's permissions for your organization",
        example="consent",
        group="Account",
    )
    async def consent(turn: Turn, request: CommandRequest) -> None:
        identity = services.identity
        tenant = turn.activity.tenant_id
        if identity is None or identity.consent is None or not tenant:
            await turn.reply(
                _notice(
                    services,
                    "Admin consent isn't available",
                    "Set COURIER_PUBLIC_URL and the app registration to offer admin consent.",
                )
            )
            return
        link = await identity.consent.link(tenant, turn.activity.conversation_id.partition(";")[0])
        card = services.cards.render("consent_request", {"app_name": settings.app_name, "url": link})
        await turn.reply(Message(text="Grant admin consent", card=card))


async def permissions_card(services: Services, turn: Turn) -> dict[str, Any]:
    identity = services.identity
    roles: frozenset[str] | None = None
    if identity is not None and identity.credential is not None:
        try:
            roles = (await identity.credential.get_token(GRAPH_RESOURCE, tenant_id=turn.activity.tenant_id)).roles
        except CredentialError as exc:
            logger.info("could not read granted roles: %s", exc.code)
    scopes: frozenset[str] | None = None
    user = signed_in_user(turn)
    if (
        identity is not None
        and identity.delegated is not None
        and user is not None
        and await identity.delegated.is_signed_in(user)
    ):
        scopes = await identity.delegated.granted_scopes(user)
    in_team = turn.activity.kind is ConversationKind.CHANNEL

    def state(name: str, kind: PermissionType) -> str:
        if kind is PermissionType.APPLICATION:
            return "unknown" if roles is None else ("granted" if name in roles else "missing")
        if kind is PermissionType.DELEGATED:
            return (
                "unknown"
                if scopes is None
                else ("granted" if name in scopes or name == "offline_access" else "missing")
            )
        return "granted" if in_team else "unknown"

    groups = []
    missing = 0
    for feature in FEATURES:
        items = []
        for p in CATALOGUE:
            if p.feature != feature:
                continue
            s = state(p.name, p.type)
            missing += s == "missing"
            items.append(
                {
                    "name": p.name,
                    "type": p.type.value,
                    "optional": p.optional,
                    "state": s,
                    "why": p.why,
                    "without": p.without,
                }
            )
        if items:
            groups.append({"title": feature.capitalize(), "permissions": items})
    if roles is None:
        summary = "Application permissions can't be checked here (no app credential). ✔ granted, ✖ missing, ? unknown."
    elif missing:
        summary = f"{missing} permission(s) missing. Features that need them stay off; the rest works."
    else:
        summary = (
            "Every application permission is granted. ? marks what can only be checked after you sign in or in a team."
        )
    consent_url = None
    if identity is not None and identity.consent is not None and turn.activity.tenant_id and missing:
        consent_url = await identity.consent.link(
            turn.activity.tenant_id, turn.activity.conversation_id.partition(";")[0]
        )
    return services.cards.render(
        "permissions",
        {"app_name": services.settings.app_name, "summary": summary, "groups": groups, "consent_url": consent_url},
    )
