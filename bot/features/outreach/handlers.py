"""Outreach in Teams: the Acknowledge button, ``notify status``, ``notify nudge`` and the "Send announcement" action.

Status and nudges are for the notification's sender or an admin (``COURIER_ADMINS``) and, with ``COURIER_SENDERS``
set, members of it; sending from Teams needs membership in any case (nobody may when it is empty). Acknowledgements
count only from the people it was sent to. Authorization reads who clicked or typed (``from.aadObjectId``) and where
(``conversation``), never what a card says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.features.outreach import cards
from bot.features.outreach.engagement import EngagementService, reaction_types
from bot.features.outreach.forms import (
    AUDIENCE_PHRASES,
    AnnouncementForm,
    FormError,
    audiences,
    form_values,
    parse_form,
)
from bot.features.outreach.service import Draft, NotARecipient, NudgeRefused, OutreachService, new_notification_id
from bot.platform.i18n import N_, _, ngettext
from bot.platform.messaging.ledger import Notification
from bot.platform.services import Services
from bot.platform.teams import extension as responses
from bot.platform.teams.router import CommandRequest, Event, ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Message
from bot.platform.time import user_zone
from bot.platform.turns.context import Context, Routes
from bot.platform.turns.guards import listed_senders_only, senders_only

logger = logging.getLogger(__name__)

COMPOSE_COMMAND = "sendAnnouncement"
COMPOSE_TITLE = N_("Send announcement")
STATUS_EXAMPLE = N_("notify status 3f2a9c…")
NUDGE_EXAMPLE = N_("notify nudge 3f2a9c…")
NOT_YOURS = (N_("Not your notification"), N_("Only the person who sent it, or a Courier admin, can see or nudge it."))
NOT_SENT_TO_YOU = (
    N_("This wasn't sent to you"),
    N_("Only the people this announcement was sent to can acknowledge it."),
)


@dataclass(frozen=True, slots=True)
class OutreachDeps:
    service: OutreachService
    engagement: EngagementService


Ctx = Context[OutreachDeps]


def register(router: Router, services: Services, deps: OutreachDeps) -> None:
    routes = Routes(router, services, deps)
    routes.action(cards.ACK_VERB)(acknowledge)
    routes.command(
        "notify status",
        description=N_("Delivery and acknowledgement totals of a notification"),
        example=STATUS_EXAMPLE,
        group=N_("Outreach"),
        guards=(senders_only,),
    )(status)
    routes.command(
        "notify nudge",
        description=N_("Remind everyone who has not acknowledged a notification"),
        example=NUDGE_EXAMPLE,
        group=N_("Outreach"),
        guards=(senders_only,),
    )(nudge)
    routes.action(cards.NUDGE_VERB, guards=(senders_only,))(nudge_from_card)
    routes.extension(ExtensionKind.FETCH_TASK, COMPOSE_COMMAND, guards=(listed_senders_only,))(open_form)
    routes.extension(ExtensionKind.SUBMIT_ACTION, COMPOSE_COMMAND, guards=(listed_senders_only,))(submit_form)
    routes.on(Event.READ_RECEIPT)(read_receipt)
    routes.on(Event.REACTION)(reaction)


# -- acknowledgements -------------------------------------------------------------------------------------


async def acknowledge(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Record who clicked Acknowledge and replace the card with the content and when they acknowledged."""
    raw = data.get("notification")
    user = ctx.activity.sender.aad_object_id  # who clicked, never what the card says
    notification = await ctx.deps.service.find(raw) if isinstance(raw, str) else None
    if notification is None or not user:
        return ctx.notice(_("This announcement is gone"), _("It may have been cancelled."))
    if notification.recalled_at is not None:
        text = _("Its sender recalled it; there is nothing to acknowledge.")
        return ctx.notice(_("This announcement was withdrawn"), text)
    try:
        at = await ctx.deps.service.acknowledge(notification, user, conversation_id=ctx.activity.conversation_root)
    except NotARecipient:
        return ctx.notice(*map(_, NOT_SENT_TO_YOU))
    when = cards.local_time(at, (await user_zone(ctx.services, ctx.turn))[0])
    return cards.acknowledged(ctx.services.cards, notification.card, when)


# -- engagement: read receipts and reactions ----------------------------------------------------------------


async def read_receipt(ctx: Ctx) -> None:
    """``application/vnd.microsoft.readReceipt``: the user read their personal chat up to ``lastReadMessageId``."""
    if not ctx.activity.is_personal:
        return  # Teams sends read receipts in personal chats only; anything else is not one
    value = ctx.activity.value
    last = value.get("lastReadMessageId") if isinstance(value, dict) else None
    await ctx.deps.engagement.read_up_to(ctx.activity.conversation_root, last if isinstance(last, str) else "")


async def reaction(ctx: Ctx) -> None:
    """``messageReaction`` on a delivered copy (its ``replyToId``): counted per type, added and removed."""
    activity = ctx.activity
    await ctx.deps.engagement.react(
        activity.conversation_root,
        activity.reply_to_id or "",
        added=reaction_types(activity.raw.get("reactionsAdded")),
        removed=reaction_types(activity.raw.get("reactionsRemoved")),
    )


# -- status and nudges ----------------------------------------------------------------------------------------


def _yours(ctx: Ctx, notification: Notification) -> bool:
    user = ctx.activity.sender.aad_object_id or ""
    return ctx.deps.service.may_manage(notification, user, ctx.services.settings.admins)


async def _find(ctx: Ctx, raw: str, usage: str) -> Notification | None:
    """The notification by its id or the short id its status card shows; else says why, and None."""
    typed = raw.strip()
    notification = await ctx.deps.service.find_shown(typed)
    if notification is None:
        text = _("Give the id the API returned, or the short id on its status card, e.g. {usage}", usage=usage)
        await ctx.say(
            _("No such notification"), _("I know no notification “{typed}”. {text}", typed=typed[:40], text=text)
        )
        return None
    if not _yours(ctx, notification):
        await ctx.say(*map(_, NOT_YOURS))
        return None
    return notification


async def _status_card(ctx: Ctx, notification: Notification, note: str | None = None) -> dict[str, Any]:
    progress = await ctx.deps.service.progress(notification)
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    return cards.status(ctx.services.cards, ctx.services.settings.app_name, progress, note, zone=zone)


async def _recent(ctx: Ctx) -> None:
    """``notify status`` alone: what this person sent from Teams lately, else how to ask."""
    sent = await ctx.deps.service.recent(f"teams:{(ctx.activity.sender.aad_object_id or '').lower()}")
    if not sent:
        await ctx.say(_("Which notification?"), _("Give its id, e.g. {example}", example=_(STATUS_EXAMPLE)))
        return
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    await ctx.say(
        _("Your recent announcements"),
        _("{listed}\n\nSee one with {example}", listed=cards.listed(sent, zone), example=_(STATUS_EXAMPLE)),
    )


async def status(ctx: Ctx, request: CommandRequest) -> None:
    """``notify status <id>``: the status card of a notification; without an id, the caller's recent ones."""
    if not request.args.strip():
        await _recent(ctx)
        return
    notification = await _find(ctx, request.args, STATUS_EXAMPLE)
    if notification is not None:
        await ctx.reply(
            Message(text=_("Notification {id}", id=notification.id), card=await _status_card(ctx, notification))
        )


async def _nudged(ctx: Ctx, notification: Notification) -> tuple[str, str]:
    """Nudge, and say what happened as a title and a sentence."""
    try:
        done = await ctx.deps.service.nudge(notification)
    except NudgeRefused as exc:
        why = _(exc.template, **exc.values)
        return _("Not nudged"), why[:1].upper() + why[1:] + "."
    if done.nudge is None:
        return _("Nobody to nudge"), _("Everyone it reached has acknowledged.")
    return _("Nudge on its way"), ngettext(
        "A reminder goes to {n} person who has not acknowledged yet.",
        "A reminder goes to {n} people who have not acknowledged yet.",
        done.recipients,
        n=ctx.words.number(done.recipients),
    )


async def nudge(ctx: Ctx, request: CommandRequest) -> None:
    """``notify nudge <id>``: remind who has not acknowledged."""
    notification = await _find(ctx, request.args, NUDGE_EXAMPLE)
    if notification is not None:
        await ctx.say(*await _nudged(ctx, notification))


async def nudge_from_card(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The status card's Nudge button: nudge, and show the status card again with what the nudge did."""
    raw = data.get("notification")
    notification = await ctx.deps.service.find(raw) if isinstance(raw, str) else None
    if notification is None:
        return ctx.notice(_("Cannot nudge"), _("Unknown or not yours."))
    if not _yours(ctx, notification):  # refused before the nudge: a stranger never uses up the owner's hour
        return ctx.notice(*map(_, NOT_YOURS))
    title, text = await _nudged(ctx, notification)
    return await _status_card(ctx, notification, note=f"{title}. {text}")


# -- "Send announcement" ----------------------------------------------------------------------------------


def _form(ctx: Ctx, values: Mapping[str, str], error: str | None = None) -> InvokeResponse:
    settings = ctx.services.settings
    card = cards.announcement_form(ctx.services.cards, settings.app_name, values, audiences(ctx.activity), error)
    return responses.task_card(_(COMPOSE_TITLE), card, height="large")


async def open_form(ctx: Ctx, value: Mapping[str, Any]) -> InvokeResponse:
    """``fetchTask``: the empty form (title, message, link, audience, acknowledgement)."""
    return _form(ctx, {})


def _draft(ctx: Ctx, form: AnnouncementForm) -> Draft:
    notification_id = new_notification_id()
    sender = ctx.activity.sender
    announcement = cards.Announcement(
        sender=sender.name or _("Announcement"),
        title=form.title,
        text=form.text,
        link=form.link or None,
        acknowledge=notification_id if form.ack else None,
    )
    return Draft(
        notification_id=notification_id,
        tenant_id=ctx.tenant_id,
        sender=f"teams:{(sender.aad_object_id or '').lower()}",
        idempotency_key=f"teams:{ctx.activity.id}",  # Teams may redeliver the same submit
        card=cards.announcement(ctx.services.cards, announcement),
        ack_required=form.ack,
        recipients=[(form.recipient_key, form.recipient)],
    )


async def submit_form(ctx: Ctx, value: Mapping[str, Any]) -> InvokeResponse:
    """``submitAction``: validate the form and queue the announcement, or show the form again with the problem."""
    values = form_values(value)
    try:
        form = parse_form(ctx.activity, values)
    except FormError as exc:
        return _form(ctx, values, str(exc))
    notification, created = await ctx.deps.service.queue(_draft(ctx, form))
    logger.info("announcement queued from Teams", extra={"created": created})
    return responses.message(
        _(
            "Announcement queued for {audience}. Track it with: notify status {id}",
            audience=_(AUDIENCE_PHRASES[form.audience]),
            id=notification.id,
        )
    )
