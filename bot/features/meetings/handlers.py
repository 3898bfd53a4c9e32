"""Meetings in Teams: ``schedule``, ``meetings``, the form, the message action, and the cards' Pick / Reschedule /
Cancel buttons.

Courier acts as the signed-in organizer (delegated Graph). Not signed in: the sign-in card, and the request is kept
so that, once signed in, one click finishes it. Only the organizer may reschedule or cancel; others are told so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.meetings import forms
from bot.features.meetings.calendar import Calendar, RoomRef, open_calendar
from bot.features.meetings.cards import ATTENTION, MeetingCards, upcoming_text
from bot.features.meetings.finding import Finding, Search, find_times
from bot.features.meetings.parse import MeetingParseError, MeetingRequest, parse_meeting
from bot.features.meetings.places import Place, RoomsUnavailable, rooms
from bot.features.meetings.service import (
    MAX_ATTENDEES,
    Invitees,
    MeetingService,
    Organizer,
    Plan,
    Proposal,
    day_window,
    invitees,
    mentioned_addresses,
    tomorrow,
)
from bot.features.meetings.store import Meeting, MeetingStore, PendingRequest
from bot.features.meetings.sync import MeetingSync
from bot.platform.graph.errors import GraphError, PermissionDenied
from bot.platform.i18n import N_, _
from bot.platform.identity.delegated import SignedIn, SignInRequired
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams import extension as responses
from bot.platform.teams.router import CommandRequest, ExtensionKind
from bot.platform.teams.turn import InvokeResponse, Message
from bot.platform.time import user_zone
from bot.platform.turns.context import Context, Refusal, Routes
from bot.platform.turns.signin import sign_in_unavailable, signed_in_user, signin_card

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MeetingDeps:
    store: MeetingStore
    service: MeetingService
    cards: MeetingCards
    sync: MeetingSync


Ctx = Context[MeetingDeps]


@dataclass(frozen=True, slots=True)
class Answer:
    """A card to answer a form with; ``again`` when it is the form itself, back with its problem."""

    card: dict[str, Any]
    again: bool = False


def register(routes: Routes[MeetingDeps]) -> None:
    signs_in = (sign_in_available,)
    routes.command(
        "schedule",
        description=N_("Find a time and create a Teams meeting"),
        example=N_("schedule Design review with @Ana tomorrow afternoon for 30m"),
        group=N_("Meetings"),
        guards=signs_in,
    )(schedule)
    routes.command(
        "meetings",
        description=N_("Your upcoming meetings created with Courier"),
        example=N_("meetings"),
        group=N_("Meetings"),
    )(meetings)
    routes.action("meeting.form", guards=signs_in)(from_form)
    routes.action("meeting.pick", guards=signs_in)(pick)
    routes.action("meeting.resume", guards=signs_in)(resume)
    routes.action("meeting.reschedule")(reschedule)
    routes.action("meeting.move", guards=signs_in)(move)
    routes.action("meeting.cancel", guards=signs_in)(cancel)
    routes.extension(ExtensionKind.FETCH_TASK, "scheduleMeeting", guards=signs_in)(schedule_from_compose)
    routes.extension(ExtensionKind.SUBMIT_ACTION, "scheduleMeeting", guards=signs_in)(schedule_from_compose_submit)


async def sign_in_available(ctx: Context[Any]) -> Refusal | None:
    """Meetings act as the person: delegated sign-in and Graph must be on here, and Teams must say who they are."""
    identity = ctx.services.identity
    configured = identity is not None and identity.delegated is not None and identity.graph is not None
    return None if configured and signed_in_user(ctx.turn) is not None else _no_sign_in(ctx)


def _no_sign_in(ctx: Context[Any]) -> Refusal:
    return Refusal(_("Meetings aren't set up here"), sign_in_unavailable(ctx.services.settings.app_name))


# -- small helpers -----------------------------------------------------------------------------------------
async def _zone(ctx: Ctx) -> str:
    return (await user_zone(ctx.services, ctx.turn))[0]


def _organizer(ctx: Ctx) -> Organizer:
    sender = ctx.activity.sender
    return Organizer(ctx.activity.tenant_id or "", (sender.aad_object_id or "").lower(), sender.name)


async def _tell(ctx: Ctx, title: str, text: str) -> None:
    await ctx.reply(Message(card=ctx.notice(title, text)))


async def _calendar(ctx: Ctx) -> Calendar | None:
    """The sender's calendar; None when they have not signed in (or their sign-in expired)."""
    try:
        return await open_calendar(ctx.services.identity, signed_in_user(ctx.turn))
    except SignInRequired:
        return None


def _sign_in_again(ctx: Ctx) -> dict[str, Any]:
    return ctx.notice(_("Sign in again"), _("Your sign-in expired; type signin, then try again."))


async def _sign_in_card(ctx: Ctx, reason: str) -> dict[str, Any]:
    """The sign-in card as a card action's answer."""
    message = await signin_card(ctx.services, ctx.turn, reason)
    if message is not None and message.card is not None:
        return message.card
    refusal = _no_sign_in(ctx)
    return ctx.notice(refusal.title, refusal.text)


def _roster(ctx: Ctx) -> Callable[[str | None], Awaitable[list[dict[str, Any]]]]:
    activity = ctx.activity

    async def lookup(member_id: str | None) -> list[dict[str, Any]]:
        return await ctx.services.roster(activity.service_url, activity.conversation_root, member_id)

    return lookup


async def _create(ctx: Ctx, calendar: Calendar, plan: Plan, zone: str) -> tuple[dict[str, Any], Meeting | None]:
    """The meeting's card and the meeting; or a card saying why not, and None."""
    try:
        meeting = await ctx.deps.service.create(
            calendar, _organizer(ctx), plan, zone=zone, conversation_id=ctx.activity.conversation_root
        )
    except PermissionDenied:
        text = _("Courier may not write to your calendar yet (Calendars.ReadWrite). Type consent, or ask your admin.")
        return ctx.notice(_("Permission needed"), text), None
    except GraphError as exc:
        logger.warning("creating a meeting failed: %s", exc)
        text = _("Microsoft Graph answered with an error; nothing was created. Try again in a minute.")
        return ctx.notice(_("I couldn't create the meeting"), text), None
    return ctx.deps.cards.meeting(meeting, zone), meeting


async def _keep_card(ctx: Ctx, meeting: Meeting | None, activity_id: str | None) -> None:
    """Remember where the meeting's card is, so calendar changes can redraw it; subscribe to those changes."""
    if meeting is None:
        return
    await ctx.deps.service.card_posted(meeting, ctx.activity.conversation_root, activity_id)
    user = signed_in_user(ctx.turn)
    if user is not None:
        await ctx.deps.sync.track(user)


# -- schedule ----------------------------------------------------------------------------------------------
async def schedule(ctx: Ctx, request: CommandRequest) -> None:
    zone = await _zone(ctx)
    if not request.args.strip():
        form = ctx.deps.cards.new_form(zone, {"date": tomorrow(ctx.now(), zone)}, rooms=await _picker(ctx))
        await ctx.reply(Message(text=_("Schedule a meeting"), card=form))
        return
    activity = ctx.activity
    names = [m.account.name for m in activity.mentions if m.account.id != activity.recipient.id and m.account.name]
    try:
        wanted = parse_meeting(request.args, now=ctx.now(), zone=ZoneInfo(zone), mention_names=names)
    except MeetingParseError as exc:
        await _tell(ctx, _("I couldn't read that meeting"), exc.message)
        return
    calendar = await _calendar(ctx)
    if calendar is None:
        await _keep_request(ctx, request.text)
        await _ask_to_sign_in(ctx)
        return
    invited = await _invitees(ctx, wanted)
    if invited.capped:
        text = _("A meeting invitation is not a broadcast; to reach everyone, send an announcement.")
        await _tell(ctx, _("Inviting the first {count} members", count=MAX_ATTENDEES), text)
    if wanted.room_for is not None:
        await _book_with_room(ctx, calendar, wanted, invited, zone)
        return
    if wanted.start is not None:
        plan = Plan.once(wanted.subject, wanted.start, wanted.minutes, invited.emails)
        card, meeting = await _create(ctx, calendar, plan, zone)
        activity_id = await ctx.reply(Message(text=wanted.subject, card=card))
        await _keep_card(ctx, meeting, activity_id)
        return
    await _offer_times(ctx, calendar, wanted, invited, zone)


async def _keep_request(ctx: Ctx, text: str) -> None:
    """Keep what the user asked, so one click after signing in finishes it."""
    user = signed_in_user(ctx.turn)
    if user is not None:
        await ctx.deps.store.keep_request(user.key, PendingRequest(text, ctx.activity.conversation_root))


async def _ask_to_sign_in(ctx: Ctx) -> None:
    reason = _("Sign in once so I can create meetings in your calendar; then ask again.")
    message = await signin_card(ctx.services, ctx.turn, reason)
    if message is None:  # not once the guard let the turn through
        refusal = _no_sign_in(ctx)
        await _tell(ctx, refusal.title, refusal.text)
        return
    await ctx.reply(message)


async def _invitees(ctx: Ctx, wanted: MeetingRequest) -> Invitees:
    mentioned: dict[str, str] = {}
    for mention in ctx.activity.mentions:
        mentioned.setdefault((mention.account.name or "").lower(), mention.account.id)
    return await invitees(wanted, mentioned, _roster(ctx), ctx.activity.sender.aad_object_id)


async def _offer_times(ctx: Ctx, calendar: Calendar, wanted: MeetingRequest, invited: Invitees, zone: str) -> None:
    search = Search(list(invited.emails), list(wanted.windows), wanted.minutes, [], zone)
    finding = await _finding(ctx, calendar, search)
    if finding is not None:
        await _answer_finding(ctx, wanted.subject, invited, finding, zone)


# -- rooms ---------------------------------------------------------------------------------------------------
NO_ROOM_TITLE = N_("I can't book a room")
NO_ROOM_SIZE = N_("No room has {seats} seats or more.")
NO_ROOMS = N_("Graph lists no rooms in your organization.")
NO_TIME_TITLE = N_("No time works")


async def _picker(ctx: Ctx) -> list[Place]:
    """The rooms for the form's picker; none (no picker) where rooms can't be read."""
    try:
        return await rooms(ctx.services.identity, ctx.activity.tenant_id or "")
    except RoomsUnavailable:
        return []


async def _picked_room(ctx: Ctx, email: str | None) -> RoomRef | None:
    if not email:
        return None
    found = next((p for p in await _picker(ctx) if p.email == email), None)
    return RoomRef(found.email, found.name) if found else None


async def _rooms_for(ctx: Ctx, seats: int) -> list[RoomRef] | None:
    """The rooms to try (big enough), or None after telling the user why there are none."""
    try:
        places = await rooms(ctx.services.identity, ctx.activity.tenant_id or "", seats=seats)
    except RoomsUnavailable as exc:
        await _tell(ctx, _(NO_ROOM_TITLE), str(exc))
        return None
    if not places:
        await _tell(ctx, _(NO_ROOM_TITLE), _(NO_ROOM_SIZE, seats=seats) if seats else _(NO_ROOMS))
        return None
    return [RoomRef(p.email, p.name) for p in places]


async def _book_with_room(ctx: Ctx, calendar: Calendar, wanted: MeetingRequest, invited: Invitees, zone: str) -> None:
    """ "… in a room": a free room at the exact time asked (created at once), else times when a room is free."""
    room_list = await _rooms_for(ctx, wanted.room_for or 0)
    if room_list is None:
        return
    windows = list(wanted.windows)
    if wanted.start is not None:
        windows = [(wanted.start, wanted.start + timedelta(minutes=wanted.minutes))]
    finding = await _finding(ctx, calendar, Search(list(invited.emails), windows, wanted.minutes, room_list, zone))
    if finding is None:
        return
    exact = wanted.start is not None and not finding.alternative and finding.slots
    if exact:
        slot = finding.slots[0]
        plan = Plan.once(wanted.subject, slot.start, wanted.minutes, invited.emails, slot.room)
        card, meeting = await _create(ctx, calendar, plan, zone)
        activity_id = await ctx.reply(Message(text=wanted.subject, card=card))
        await _keep_card(ctx, meeting, activity_id)
        return
    await _answer_finding(ctx, wanted.subject, invited, finding, zone)


async def _finding(ctx: Ctx, calendar: Calendar, search: Search) -> Finding | None:
    try:
        return await find_times(calendar, search)
    except PermissionDenied:
        text = _("Courier may not read calendars yet (Calendars.ReadWrite). Type consent, or ask your admin.")
        await _tell(ctx, _("Permission needed"), text)
    except GraphError as exc:
        logger.warning("finding free times failed: %s", exc)
        text = _("Microsoft Graph answered with an error. Try again in a minute.")
        await _tell(ctx, _("I couldn't look up free times"), text)
    return None


async def _answer_finding(ctx: Ctx, subject: str, invited: Invitees, finding: Finding, zone: str) -> None:
    """The times found; or why none works, with the nearest alternatives as buttons when there are some."""
    if not finding.slots:
        await _tell(ctx, _(NO_TIME_TITLE), finding.explanation())
        return
    prompt = finding.explanation() if finding.alternative else None
    proposal = Proposal.offer(subject, finding.minutes, invited.emails, finding.slots)
    card = ctx.deps.cards.options(proposal, zone, prompt)
    await ctx.reply(Message(text=_("Times for {subject}", subject=subject), card=card))


# -- the form ----------------------------------------------------------------------------------------------
async def from_form(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    return (await _form_answer(ctx, data)).card


async def _form_answer(ctx: Ctx, data: Mapping[str, Any], *, dialog: bool = False) -> Answer:
    zone = await _zone(ctx)
    form = forms.parse_form(data)

    async def again(problem: str) -> Answer:
        card = ctx.deps.cards.new_form(zone, form.values, problem, dialog=dialog, rooms=await _picker(ctx))
        return Answer(card, again=True)

    if isinstance(form, forms.FormProblem):
        return await again(form.problem)
    calendar = await _calendar(ctx)
    if calendar is None:
        reason = _("Sign in so I can create the meeting, then press Schedule again.")
        return Answer(await _sign_in_card(ctx, reason), again=dialog)  # a dialog stays open while they sign in
    start = form.start(zone)
    if start is not None:
        if ctx.deps.service.has_passed(start):
            return await again(_("That time has passed."))
        room = await _picked_room(ctx, form.room)
        plan = Plan(form.subject, start, form.minutes, form.emails, f"form:{ctx.activity.id}", room)
        card, meeting = await _create(ctx, calendar, plan, zone)
        await _keep_card(ctx, meeting, ctx.activity.reply_to_id)
        return Answer(card)
    window = day_window(form.day, zone, ctx.now())
    room = await _picked_room(ctx, form.room)
    found = (
        await calendar.suggest(list(form.emails), [window], form.minutes, [room] if room else []) if window else None
    )
    if found is None or not found.slots:
        return await again(_("Nobody is free together that day; pick another day or a time."))
    return Answer(ctx.deps.cards.options(Proposal.offer(form.subject, form.minutes, form.emails, found.slots), zone))


async def schedule_from_compose(ctx: Ctx, value: Mapping[str, Any]) -> InvokeResponse:
    """The form, prefilled from the message it was opened on: its text as the subject, its mentions invited."""
    zone = await _zone(ctx)
    prefill = forms.prefill(value)
    emails = await mentioned_addresses(prefill.member_ids, _roster(ctx))
    values = {"subject": prefill.subject, "attendees": ", ".join(emails), "date": tomorrow(ctx.now(), zone)}
    form = ctx.deps.cards.new_form(zone, values, dialog=True, rooms=await _picker(ctx))
    return responses.task_card(_("Schedule a meeting"), form, height="large")


async def schedule_from_compose_submit(ctx: Ctx, value: Mapping[str, Any]) -> InvokeResponse:
    raw = value.get("data")
    answer = await _form_answer(ctx, raw if isinstance(raw, dict) else {}, dialog=True)
    if answer.again:  # the form again, with the problem: keep the dialog open
        return responses.task_card(_("Schedule a meeting"), answer.card, height="large")
    # The meeting (or its free times) goes into the compose box, to post in this conversation.
    return responses.result_list([(answer.card, _("Meeting"), _("Teams meeting"))])


# -- picking a time, resuming after sign-in ----------------------------------------------------------------
async def pick(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    choice = forms.parse_choice(data)
    if choice is None:
        return ctx.notice(_("That choice is broken"), _("Ask again with schedule …."))
    calendar = await _calendar(ctx)
    if calendar is None:
        return await _sign_in_card(ctx, _("Sign in so I can create the meeting, then pick the time again."))
    if ctx.deps.service.has_passed(choice.start):
        return ctx.notice(_("That time has passed"), _("Ask again with schedule … for new times."))
    plan = Plan(choice.subject, choice.start, choice.minutes, choice.emails, choice.proposal, choice.room)
    card, meeting = await _create(ctx, calendar, plan, await _zone(ctx))
    await _keep_card(ctx, meeting, ctx.activity.reply_to_id)  # the options card becomes the meeting card
    return card


def offer_to_resume(services: Services, deps: MeetingDeps) -> Callable[[SignedIn], Awaitable[None]]:
    """On ``SignedIn``: offer to finish the request kept while the person signed in."""

    async def offer(signed_in: SignedIn) -> None:
        kept = await deps.store.pending_request(signed_in.user.key)
        if kept is None or services.proactive is None:
            return
        try:
            await services.proactive.send(kept.conversation_id, Message(card=deps.cards.resume(kept.text)))
        except NotDeliverable as exc:
            logger.info("could not offer to resume a schedule request: %s", exc)

    return offer


async def resume(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    user = signed_in_user(ctx.turn)
    kept = await ctx.deps.store.take_request(user.key) if user else None
    if kept is None:
        return ctx.notice(_("Nothing to resume"), _("Ask again with schedule …."))
    args = kept.text.removeprefix("schedule").strip()
    await schedule(ctx, CommandRequest(name="schedule", args=args, text=kept.text))
    return ctx.notice(_("Resumed"), _("Your request continues below."))


# -- the organizer's changes -------------------------------------------------------------------------------
async def _organized(ctx: Ctx, data: Mapping[str, Any]) -> tuple[Meeting | None, dict[str, Any] | None]:
    """The meeting when the sender organizes it; else the answer to give instead."""
    meeting = await ctx.deps.service.find(forms.meeting_id(data))
    if meeting is None:
        return None, ctx.notice(_("Unknown meeting"), _("It is not one Courier created."))
    if not _organizer(ctx).may_change(meeting):
        note = _(
            "Only the organizer ({name}) can change this meeting.",
            name=meeting.organizer_name or _("who set it up"),
        )
        return None, ctx.deps.cards.meeting(meeting, await _zone(ctx), note=note, color=ATTENTION)
    return meeting, None


async def reschedule(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    meeting, refusal = await _organized(ctx, data)
    if meeting is None:
        return refusal
    return ctx.deps.cards.move_form(meeting, await _zone(ctx))


async def move(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    meeting, refusal = await _organized(ctx, data)
    if meeting is None:
        return refusal
    zone = await _zone(ctx)
    wanted = forms.parse_move(data, zone)
    if wanted is None:
        return ctx.notice(_("Pick a date and a time"), _("Both are needed to move the meeting."))
    start, minutes = wanted
    if ctx.deps.service.has_passed(start):
        return ctx.notice(_("That time has passed"), _("Pick a time in the future."))
    calendar = await _calendar(ctx)
    if calendar is None:
        return _sign_in_again(ctx)
    try:
        moved = await ctx.deps.service.move(calendar, meeting, start, minutes)
    except SignInRequired:
        return _sign_in_again(ctx)
    except GraphError as exc:
        logger.warning("moving a meeting failed: %s", exc)
        note = _("Outlook refused the change; the meeting is unchanged.")
        return ctx.deps.cards.meeting(meeting, zone, note=note, color=ATTENTION)
    return ctx.deps.cards.meeting(moved, zone, note=_("Moved; attendees were sent the update."))


async def cancel(ctx: Ctx, data: Mapping[str, Any]) -> dict[str, Any] | None:
    meeting, refusal = await _organized(ctx, data)
    if meeting is None:
        return refusal
    zone = await _zone(ctx)
    calendar = await _calendar(ctx)
    if calendar is None:
        return _sign_in_again(ctx)
    try:
        cancelled = await ctx.deps.service.cancel(calendar, meeting)
    except SignInRequired:
        return _sign_in_again(ctx)
    except GraphError as exc:
        logger.warning("cancelling a meeting failed: %s", exc)
        note = _("Outlook refused to cancel it; the meeting still stands.")
        return ctx.deps.cards.meeting(meeting, zone, note=note, color=ATTENTION)
    return ctx.deps.cards.meeting(cancelled, zone, note=_("Cancelled; attendees were notified."), color=ATTENTION)


# -- meetings ----------------------------------------------------------------------------------------------
async def meetings(ctx: Ctx, request: CommandRequest) -> None:
    zone = await _zone(ctx)
    upcoming = await ctx.deps.service.upcoming(_organizer(ctx))
    if not upcoming:
        text = _("None that Courier created. Try schedule Design review with @Ana tomorrow.")
        await _tell(ctx, _("No upcoming meetings"), text)
        return
    await _tell(ctx, _("Your upcoming meetings"), upcoming_text(upcoming, zone))
