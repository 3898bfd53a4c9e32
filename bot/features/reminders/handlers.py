"""Reminders in Teams: ``remind``, ``reminders``, ``timezone``, ``quiet``, the form, the reminder card's buttons, the
messaging extension action "Remind me about this", and what installing and uninstalling does to reminders."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.reminders import forms
from bot.features.reminders.cards import ReminderCards, listed
from bot.features.reminders.forms import ReminderForm
from bot.features.reminders.grammar import command_words as grammar_command_words
from bot.features.reminders.grammar import grammar_of_command
from bot.features.reminders.parse import ParsedReminder, ReminderParseError, parse_reminder
from bot.features.reminders.service import (
    NOT_EDITABLE,
    Author,
    Person,
    Refused,
    ReminderService,
    edit_refusal,
    is_mine,
    may_answer,
    parse_quiet,
    snooze_until,
    tomorrow_morning,
)
from bot.features.reminders.store import Reminder
from bot.platform.i18n import N_, _, pgettext
from bot.platform.services import Services
from bot.platform.teams import extension as responses
from bot.platform.teams.router import CommandRequest, Event, ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Message
from bot.platform.time import user_zone, valid_zone
from bot.platform.turns.context import Context, Routes

logger = logging.getLogger(__name__)

GROUP = N_("Reminders")
MONTH_FIRST_LOCALES = {"en-us", "en-ph", "en-ca"}
GONE = (N_("This reminder is gone"), N_("It was deleted."))


@dataclass(frozen=True, slots=True)
class ReminderDeps:
    reminders: ReminderService
    cards: ReminderCards


Ctx = Context[ReminderDeps]


def register(router: Router, services: Services, deps: ReminderDeps) -> None:
    routes = Routes(router, services, deps)
    routes.command(
        "remind",
        description=N_("Set a reminder for you, someone else, or this chat or channel"),
        example=N_("remind me tomorrow at 9am to send the report"),
        group=GROUP,
        aliases=grammar_command_words(),  # "erinnere mich ...", "rappelle-moi ...", "recuérdame ...", ...
    )(remind)
    routes.command("reminders", description=N_("List upcoming reminders"), example=N_("reminders"), group=GROUP)(
        reminders
    )
    routes.command(
        "reminders delete",
        description=N_("Delete the n-th reminder of the list"),
        example=N_("reminders delete 2"),
        group=GROUP,
    )(delete_nth)
    routes.command(
        "timezone",
        description=N_("Show or set your time zone for reminders"),
        example=N_("timezone Europe/Paris"),
        group=GROUP,
    )(timezone)
    routes.command(
        "quiet", description=N_("Hold your reminders during quiet hours"), example=N_("quiet 20:00-08:00"), group=GROUP
    )(quiet)
    for verb, handler in (
        ("reminder.create", create_from_card),
        ("reminder.delete", delete_from_card),
        ("reminder.edit", edit_from_card),
        ("reminder.done", done),
        ("reminder.snooze", snooze),
        ("reminder.tomorrow", tomorrow),
    ):
        routes.action(verb)(handler)
    routes.extension(ExtensionKind.FETCH_TASK, "remindAboutMessage")(remind_about_message)
    routes.extension(ExtensionKind.SUBMIT_ACTION, "remindAboutMessage")(remind_about_message_submit)
    routes.on(Event.UNINSTALLED)(uninstalled)
    routes.on(Event.INSTALLED)(installed)
    routes.on(Event.CHANNEL_CHANGED)(channel_changed)


# -- helpers ------------------------------------------------------------------------------------------------
def _author(ctx: Ctx, zone: str) -> Author:
    sender = ctx.activity.sender
    return Author(ctx.tenant_id, Person(ctx.user_key, sender.name), ctx.activity.conversation_root, zone)


def _mentioned(ctx: Ctx) -> list[Person]:
    return [Person((m.account.aad_object_id or m.account.id).lower(), m.account.name) for m in ctx.activity.mentions]


def _with_hint(sentence: str, hint: str | None) -> str:
    return sentence + (f" {hint}" if hint else "")


def _prefs_tenant(ctx: Ctx) -> str:
    """People's preferences are kept under the tenant Teams sends (as ``user_zone`` reads them)."""
    return ctx.activity.tenant_id or ""


def _parse_words(ctx: Ctx, words: str, zone: str, command_word: str = "remind") -> ParsedReminder:
    bot_id = ctx.activity.recipient.id
    names = [m.account.name for m in ctx.activity.mentions if m.account.id != bot_id and m.account.name]
    month_first = (ctx.activity.locale or "en-US").lower() in MONTH_FIRST_LOCALES
    grammar = grammar_of_command(command_word)  # "erinnere mich ..." reads German, "remind me ..." English
    return parse_reminder(
        words, now=ctx.now(), zone=ZoneInfo(zone), mention_names=names, month_first=month_first, grammar=grammar
    )


async def _reply_form(ctx: Ctx, form: ReminderForm) -> None:
    await ctx.reply(Message(text=form.title, card=ctx.deps.cards.form(form)))


# -- remind --------------------------------------------------------------------------------------------------
async def remind(ctx: Ctx, request: CommandRequest) -> None:
    """``remind`` alone opens the form; in words it is set at once, or shown on the form when it needs a check."""
    zone, hint = await user_zone(ctx.services, ctx.turn)
    if not request.args.strip():
        await _reply_form(ctx, forms.blank(ctx.now(), zone))
        return
    try:
        parsed = _parse_words(ctx, request.args, zone, (request.text.split() or ["remind"])[0])
    except ReminderParseError as exc:
        await ctx.say(_("I couldn't set that reminder"), f"{exc.message} {_('Or type remind alone for a form.')}")
        return
    if parsed.when.check:
        await _reply_form(ctx, forms.to_check(parsed, zone))
        return
    outcome = await ctx.deps.reminders.create(_author(ctx, zone), parsed, _mentioned(ctx))
    if isinstance(outcome, Refused):
        await ctx.say(_("I couldn't set that reminder"), outcome.reason)
        return
    ctx.services.jobs.wake()
    card = ctx.deps.cards.confirmation(outcome.reminder.id, _with_hint(outcome.sentence, hint))
    await ctx.reply(Message(text=outcome.sentence, card=card))


@dataclass(frozen=True, slots=True)
class _Saved:
    card: dict[str, Any]
    saved: bool  # False: the card says what is wrong (the form again, or a refusal)
    sentence: str = ""


async def _save_form(ctx: Ctx, data: Mapping[str, Any], *, dialog: bool = False) -> _Saved:
    """A submitted form: a new reminder, or an edit that replaces the one it came from."""
    zone, hint = await user_zone(ctx.services, ctx.turn)
    values, hidden = forms.submitted(data)
    zone = hidden.zone if valid_zone(hidden.zone) else zone  # read times in the zone the form showed
    service, cards = ctx.deps.reminders, ctx.deps.cards
    try:
        parsed = forms.parse_form(values, hidden, zone=zone, now=ctx.now())
    except ReminderParseError as exc:
        return _Saved(cards.form(forms.with_problem(values, hidden, zone, exc.message), dialog=dialog), saved=False)
    old = await service.get(hidden.replaces) if hidden.replaces else None
    if old is not None and old.creator_id != ctx.user_key:
        return _Saved(ctx.notice(_("Can't edit that"), _("Someone else set it.")), saved=False)
    link = hidden.link or (old.source_link if old else None)
    outcome = await service.create(_author(ctx, zone), parsed, _mentioned(ctx), source_link=link)
    if isinstance(outcome, Refused):
        return _Saved(cards.form(forms.with_problem(values, hidden, zone, outcome.reason), dialog=dialog), saved=False)
    if old is not None:
        await service.replaced(old)
    ctx.services.jobs.wake()
    sentence = _with_hint(outcome.sentence, hint)
    return _Saved(cards.confirmation(outcome.reminder.id, sentence), saved=True, sentence=sentence)


async def create_from_card(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    return (await _save_form(ctx, data)).card


# -- list, delete, edit --------------------------------------------------------------------------------------
async def _upcoming(ctx: Ctx) -> list[Reminder]:
    """In a personal chat: what I set for people; in a chat or channel: what is set for it."""
    if ctx.activity.is_personal:
        return await ctx.deps.reminders.upcoming_for_user(ctx.tenant_id, ctx.user_key)
    return await ctx.deps.reminders.upcoming_for_conversation(ctx.activity.conversation_root)


async def _list_card(ctx: Ctx) -> dict[str, Any]:
    zone, hint = await user_zone(ctx.services, ctx.turn)
    items = listed(await _upcoming(ctx), zone=zone, now=ctx.now(), me=ctx.user_key)
    title = _("Your reminders") if ctx.activity.is_personal else _("Reminders in this conversation")
    deleting = _("{command} 2 removes the 2nd", command=pgettext("command", "reminders delete"))
    subtitle = _("Times in {zone}", zone=zone) + (" · " + hint if hint else "") + (" · " + deleting if items else "")
    return ctx.deps.cards.listing(title, subtitle, items)


async def reminders(ctx: Ctx, request: CommandRequest) -> None:
    await ctx.reply(Message(text=_("Reminders"), card=await _list_card(ctx)))


async def delete_nth(ctx: Ctx, request: CommandRequest) -> None:
    listed_now = await _upcoming(ctx)
    arg = request.args.strip()
    if not arg.isdigit() or not 1 <= int(arg) <= len(listed_now):
        which = _("Give a number from 1 to {count} as shown by reminders.", count=len(listed_now))
        await ctx.say(_("Which one?"), which if listed_now else _("You have no upcoming reminders."))
        return
    reminder = listed_now[int(arg) - 1]
    await ctx.deps.reminders.delete(reminder, waiting_only=True)
    await ctx.say(_("Reminder deleted"), _("\u201c{text}\u201d will not fire.", text=reminder.text[:200]))


async def delete_from_card(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Delete from the list (the list comes back) or from the confirmation (a notice comes back)."""
    reminder = await ctx.deps.reminders.get(data.get("reminder"))
    if reminder is None or not is_mine(reminder, ctx.user_key):
        return ctx.notice(_("Can't delete that"), _("It is gone already, or it is not yours."))
    await ctx.deps.reminders.delete(reminder)
    if data.get("from") == "confirmation":
        return ctx.notice(_("Reminder deleted"), _("\u201c{text}\u201d will not fire.", text=reminder.text[:200]))
    return await _list_card(ctx)


async def edit_from_card(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    reminder = await ctx.deps.reminders.get(data.get("reminder"))
    if reminder is None:
        return ctx.notice(*map(_, NOT_EDITABLE))
    refusal = edit_refusal(reminder, ctx.user_key)
    if refusal is not None:
        return ctx.notice(*map(_, refusal))
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    return ctx.deps.cards.form(forms.for_edit(reminder, zone))


# -- the reminder card's buttons -----------------------------------------------------------------------------
async def _answerable(ctx: Ctx, data: Mapping[str, Any]) -> Reminder | None:
    reminder = await ctx.deps.reminders.get(data.get("reminder"))
    return reminder if reminder is not None and may_answer(reminder, ctx.user_key) else None


async def done(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    reminder = await _answerable(ctx, data)
    if reminder is None:
        return ctx.notice(*map(_, GONE))
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    return ctx.deps.cards.answered(reminder, await ctx.deps.reminders.done(reminder, zone))


async def snooze(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    reminder = await _answerable(ctx, data)
    if reminder is None:
        return ctx.notice(*map(_, GONE))
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    status = await ctx.deps.reminders.snooze(reminder, snooze_until(ctx.now(), data.get("minutes")), zone)
    ctx.services.jobs.wake()
    return ctx.deps.cards.answered(reminder, status)


async def tomorrow(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    reminder = await _answerable(ctx, data)
    if reminder is None:
        return ctx.notice(*map(_, GONE))
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    status = await ctx.deps.reminders.snooze(reminder, tomorrow_morning(ctx.now(), zone), zone)
    ctx.services.jobs.wake()
    return ctx.deps.cards.answered(reminder, status)


# -- preferences ---------------------------------------------------------------------------------------------
async def timezone(ctx: Ctx, request: CommandRequest) -> None:
    wanted = request.args.strip()
    if not wanted:
        zone, hint = await user_zone(ctx.services, ctx.turn)
        await ctx.say(
            _("Your time zone: {zone}", zone=zone), hint or _("Change it with timezone Europe/Paris (any IANA name).")
        )
        return
    if valid_zone(wanted) is None:
        problem = _("'{zone}' is not an IANA zone name. Try Europe/Paris or America/New_York.", zone=wanted)
        await ctx.say(_("Unknown time zone"), problem)
        return
    await ctx.deps.reminders.set_zone(_prefs_tenant(ctx), ctx.user_key, wanted)
    await ctx.say(_("Time zone set to {zone}", zone=wanted), _("New reminders use it; existing ones keep their zone."))


async def quiet(ctx: Ctx, request: CommandRequest) -> None:
    """``quiet`` shows the quiet hours, ``quiet 20:00-08:00`` / ``quiet off`` sets them; anything else is refused
    with the format, and nothing changes."""
    tenant, service = _prefs_tenant(ctx), ctx.deps.reminders
    words = request.args.strip()
    wanted = parse_quiet(words)
    if not words:
        current = await service.quiet_hours(tenant, ctx.user_key)
        shown = _("off") if current.off else f"{current.start}-{current.end}"
        await ctx.say(_("Quiet hours: {hours}", hours=shown), _("Set them with quiet 20:00-08:00, or quiet off."))
        return
    if wanted is None:
        problem = _(
            "I couldn't read \u201c{words}\u201d. Give the start and end as HH:MM-HH:MM in 24-hour time "
            "(00:00 to 23:59), e.g. quiet 20:00-08:00, or quiet off. Your quiet hours are unchanged.",
            words=words[:40],
        )
        await ctx.say(_("Those aren't quiet hours"), problem)
        return
    await service.set_quiet_hours(tenant, ctx.user_key, wanted)
    if wanted.off:
        await ctx.say(_("Quiet hours off"), _("Reminders reach you at any time."))
    else:
        hours = f"{wanted.start}-{wanted.end}"
        await ctx.say(_("Quiet hours {hours}", hours=hours), _("Reminders due then wait until the quiet hours end."))


# -- "Remind me about this" (message action) -----------------------------------------------------------------
async def remind_about_message(ctx: Ctx, value: Mapping[str, Any]) -> InvokeResponse:
    zone, _hint = await user_zone(ctx.services, ctx.turn)
    card = ctx.deps.cards.form(forms.about_message(value, ctx.now(), zone), dialog=True)
    return responses.task_card(_("Remind me about this"), card, height="large")


async def remind_about_message_submit(ctx: Ctx, value: Mapping[str, Any]) -> InvokeResponse:
    """The dialog's Set reminder (``Action.Submit`` -> ``composeExtension/submitAction``): saved, the dialog closes
    and the confirmation arrives in the person's chat with Courier; a problem keeps the dialog open, with the form."""
    data = value.get("data")
    outcome = await _save_form(ctx, data if isinstance(data, dict) else {}, dialog=True)
    if not outcome.saved:
        return responses.task_card(_("Remind me about this"), outcome.card, height="large")
    if await _confirm_in_personal_chat(ctx, outcome.card):
        return responses.close_dialog()
    return responses.task_message(outcome.sentence)  # no chat with Courier yet: the dialog says it instead


async def _confirm_in_personal_chat(ctx: Ctx, card: dict[str, Any]) -> bool:
    """The confirmation card in the person's 1:1 chat with Courier; False when there is none to send it to."""
    proactive = ctx.services.proactive
    if proactive is None:
        return False
    try:
        conversation = await ctx.services.store.find_personal_conversation(ctx.tenant_id, ctx.user_key)
        if conversation is None:
            return False
        await proactive.send(conversation.conversation_id, Message(text=_("Reminder set"), card=card))
    except Exception:
        logger.exception("could not confirm a reminder set from a dialog in the personal chat")
        return False
    return True


# -- installation --------------------------------------------------------------------------------------------
async def uninstalled(ctx: Ctx) -> None:
    """Uninstalled by a person: their reminders are suspended (purged after a grace period, restored by a
    reinstall). Removed from a chat or channel: its reminders are off."""
    activity = ctx.activity
    if activity.is_personal and activity.tenant_id:
        count = await ctx.deps.reminders.suspend_for(activity.tenant_id, ctx.user_key)
        logger.info("uninstalled: %d reminders suspended", count)
        return
    disabled = await ctx.deps.reminders.disable_in(activity.conversation_root)
    logger.info("removed from a conversation: %d reminders disabled", len(disabled))


async def installed(ctx: Ctx) -> None:
    activity = ctx.activity
    if activity.is_personal and activity.tenant_id:
        restored = await ctx.deps.reminders.resume_for(activity.tenant_id, ctx.user_key)
        if restored:
            ctx.services.jobs.wake()
            logger.info("reinstalled: %d reminders restored", restored)


async def channel_changed(ctx: Ctx) -> None:
    """A deleted channel turns its reminders off, and whoever set each is told in their personal chat."""
    activity = ctx.activity
    if activity.event_type != "channelDeleted" or not activity.channel_id_teams:
        return
    for reminder in await ctx.deps.reminders.disable_in(activity.channel_id_teams):
        await _tell_channel_gone(ctx, reminder)


async def _tell_channel_gone(ctx: Ctx, reminder: Reminder) -> None:
    proactive = ctx.services.proactive
    if proactive is None:
        return
    card = ctx.notice(
        _("A channel reminder is off"),
        _("The channel of \u201c{text}\u201d was deleted, so the reminder is off.", text=reminder.text[:120]),
    )
    try:
        conversation = await ctx.services.store.find_personal_conversation(reminder.tenant_id, reminder.creator_id)
        if conversation is not None:
            await proactive.send(conversation.conversation_id, Message(card=card))
    except Exception:
        logger.exception("could not tell a reminder's creator that its channel is gone")
