"""``signin``, ``signout``, ``permissions`` and ``consent``: who Courier acts as, and what it may do."""

from __future__ import annotations

import logging

from bot.features.account.cards import consent_request_card, permissions_card
from bot.features.account.service import permissions_report, read_grants
from bot.platform.i18n import N_, _
from bot.platform.services import Services
from bot.platform.storage.models import ConversationKind
from bot.platform.teams.router import CommandRequest, Router
from bot.platform.teams.turn import Message
from bot.platform.turns.context import Context, Refusal, Routes
from bot.platform.turns.signin import sign_in_unavailable, signed_in_user, signin_card

logger = logging.getLogger(__name__)
GROUP = N_("Account")


def register(router: Router, services: Services) -> None:
    routes: Routes[None] = Routes(router, services, None)
    routes.command(
        "signin",
        description=N_("Sign in so I can act for you (meetings)"),
        example=N_("signin"),
        group=GROUP,
        guards=(sign_in_available,),
    )(signin)
    routes.command("signout", description=N_("Forget your sign-in"), example=N_("signout"), group=GROUP)(signout)
    routes.command(
        "permissions",
        description=N_("What Courier may do here, what each permission is for, and what's missing"),
        example=N_("permissions"),
        group=GROUP,
    )(permissions)
    routes.command(
        "consent",
        description=N_("Admins: grant Courier's permissions for your organization"),
        example=N_("consent"),
        group=GROUP,
        guards=(consent_available,),
    )(consent)


# -- guards ---------------------------------------------------------------------------------------------
async def sign_in_available(ctx: Context[None]) -> Refusal | None:
    """Delegated sign-in is configured here, and Teams said who this person is."""
    identity = ctx.services.identity
    if identity is not None and identity.delegated is not None and signed_in_user(ctx.turn) is not None:
        return None
    return Refusal(_("Sign-in isn't set up here"), sign_in_unavailable(ctx.services.settings.app_name))


async def consent_available(ctx: Context[None]) -> Refusal | None:
    """Admin consent is configured here, and the activity names its tenant."""
    identity = ctx.services.identity
    if identity is not None and identity.consent is not None and ctx.activity.tenant_id:
        return None
    return Refusal(
        _("Admin consent isn't available"),
        _("Set COURIER_PUBLIC_URL and the app registration to offer admin consent."),
    )


# -- handlers -------------------------------------------------------------------------------------------
async def signin(ctx: Context[None], request: CommandRequest) -> None:
    identity, user = ctx.services.identity, signed_in_user(ctx.turn)
    if identity is None or identity.delegated is None or user is None:
        return  # refused by sign_in_available
    if await identity.delegated.is_signed_in(user):
        await ctx.say(_("You're already signed in"), _("Type signout to sign out."))
        return
    message = await signin_card(ctx.services, ctx.turn, _("Sign in once so I can schedule meetings for you."))
    if message is not None:
        await ctx.reply(message)


async def signout(ctx: Context[None], request: CommandRequest) -> None:
    identity, user = ctx.services.identity, signed_in_user(ctx.turn)
    removed = bool(identity and identity.delegated and user and await identity.delegated.sign_out(user))
    if removed:
        await ctx.say(_("Signed out"), _("I deleted your stored sign-in."))
    else:
        await ctx.say(_("Nothing to sign out"), _("You weren't signed in."))


async def permissions(ctx: Context[None], request: CommandRequest) -> None:
    in_team = ctx.activity.kind is ConversationKind.CHANNEL
    grants = await read_grants(ctx.services.identity, ctx.activity.tenant_id, signed_in_user(ctx.turn), in_team=in_team)
    report = permissions_report(grants)
    consent_url = await _consent_link(ctx) if report.missing else None
    card = permissions_card(ctx.services.cards, ctx.services.settings.app_name, report, consent_url)
    await ctx.reply(Message(text=_("Courier's permissions"), card=card))


async def consent(ctx: Context[None], request: CommandRequest) -> None:
    link = await _consent_link(ctx)
    if link is None:
        return  # refused by consent_available
    card = consent_request_card(ctx.services.cards, ctx.services.settings.app_name, link)
    await ctx.reply(Message(text=_("Grant admin consent"), card=card))


async def _consent_link(ctx: Context[None]) -> str | None:
    """Courier's admin consent link for this tenant (it tells this chat the outcome), if consent is on here."""
    identity, tenant = ctx.services.identity, ctx.activity.tenant_id
    if identity is None or identity.consent is None or not tenant:
        return None
    return await identity.consent.link(tenant, ctx.activity.conversation_id.partition(";")[0])
