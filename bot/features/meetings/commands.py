"""Meetings in Teams: ``schedule``, ``meetings``, and the cards' Pick / Reschedule / Cancel buttons.

Courier acts as the signed-in organizer (delegated Graph). Not signed in: the sign-in card, and the request is kept
so the user can simply repeat it after signing in. Only the organizer may reschedule or cancel; others are told so.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.meetings.calendar import Calendar, Event, Slot
from bot.features.meetings.cards import meeting_card as draw_meeting
from bot.features.meetings.cards import span
from bot.features.meetings.parse import MeetingParseError, MeetingRequest, parse_meeting
from bot.features.meetings.store import CANCELLED, SCHEDULED, Meeting, MeetingStore
from bot.platform.graph.errors import GraphError, PermissionDenied
from bot.platform.identity.delegated import SignedIn, SignInRequired, UserRef
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams import extension as responses
from bot.platform.teams.router import CommandRequest, ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Message, Turn
from bot.platform.time import localize, user_zone
from bot.platform.turns.signin import signin_card

logger = logging.getLogger(__name__)

MAX_ATTENDEES = 100
PENDING = "pending_schedule"  # user key -> the schedule request to finish after sign-in
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class NeedsSignIn(Exception):
    pass


_span = span


def register(router: Router, services: Services) -> None:  # noqa: PLR0915 - one feature's handlers, together
    cards = services.cards
    app = services.settings.app_name
    store = services.store

    notice = services.notice

    def user_ref(turn: Turn) -> UserRef | None:
        a = turn.activity
        if not a.tenant_id or not a.sender.aad_object_id:
            return None
        return UserRef(a.tenant_id, a.sender.aad_object_id.lower())

    async def calendar_for(turn: Turn) -> Calendar:
        identity = services.identity
        user = user_ref(turn)
        caller = identity.as_user(user) if identity is not None and user is not None else None
        if identity is None or identity.delegated is None or user is None or caller is None:
            raise NeedsSignIn("sign-in is not available here")
        await identity.delegated.get_token(user)  # fail early, before any card, when the user is not signed in
        return Calendar(caller)

    async def zone_of(turn: Turn) -> str:
        return (await user_zone(services, turn))[0]

    async def sign_in_answer(turn: Turn, reason: str) -> dict[str, Any]:
        """The sign-in card as a card action's answer."""
        message = await signin_card(services, turn, reason)
        return message.card if message and message.card else notice("Sign-in needed", "Type signin.")

    def options_card(subject: str, minutes: int, emails: list[str], slots: list[Slot], zone: str) -> dict[str, Any]:
        """The free times as buttons; one transaction id for the proposal, so picking twice creates one event."""
        proposal = uuid.uuid4().hex
        options = [
            {
                "label": _span(slot.start, slot.end, zone),
                "data": {
                    "proposal": proposal,
                    "subject": subject,
                    "start": slot.start.isoformat(),
                    "minutes": minutes,
                    "attendees": emails,
                },
            }
            for slot in slots
        ]
        return cards.render(
            "meeting_options",
            {
                "app_name": app,
                "subject": subject,
                "subtitle": f"{minutes} min with {', '.join(emails) or 'just you'} · times in {zone}",
                "prompt": "Everyone is free at these times. Pick one and I'll send the invitation with a Teams link:",
                "options": options,
            },
        )

    async def ask_to_sign_in(turn: Turn) -> None:
        message = await signin_card(
            services, turn, "Sign in once so I can create meetings in your calendar; then ask again."
        )
        if message is None:
            await turn.reply(
                Message(
                    card=notice(
                        "Meetings need sign-in",
                        f"This {app} has no sign-in configured (it needs a public URL and an app registration).",
                    )
                )
            )
            return
        await turn.reply(message)

    async def attendees_of(turn: Turn, request: MeetingRequest) -> list[str]:
        """Email addresses for the mentioned people, typed addresses and, if asked, the channel's members."""
        emails = list(request.emails)
        activity = turn.activity
        conversation = activity.conversation_root
        for name in request.attendee_names:
            mention = next((m for m in activity.mentions if (m.account.name or "").lower() == name.lower()), None)
            if mention is None:
                continue
            try:
                (member,) = await services.roster(activity.service_url, conversation, mention.account.id)
            except Exception:
                logger.info("could not look up a mentioned attendee in the roster")
                continue
            address = member.get("email") or member.get("userPrincipalName")
            if address:
                emails.append(str(address).lower())
        if request.channel_members:
            try:
                for member in await services.roster(activity.service_url, conversation, None):
                    address = member.get("email") or member.get("userPrincipalName")
                    if address and member.get("aadObjectId") != activity.sender.aad_object_id:
                        emails.append(str(address).lower())
            except Exception:
                logger.info("could not read the channel roster for attendees")
        unique = list(dict.fromkeys(emails))
        return unique[:MAX_ATTENDEES]

    async def remember(
        turn: Turn, event: Event, *, subject: str, emails: list[str], zone: str, transaction: str
    ) -> Meeting:
        return await MeetingStore(store.db).record(
            Meeting(
                id="",
                tenant_id=turn.activity.tenant_id or "",
                organizer_id=(turn.activity.sender.aad_object_id or "").lower(),
                organizer_name=turn.activity.sender.name,
                event_id=event.id,
                transaction_id=transaction,
                subject=subject,
                start_at=event.start,
                end_at=event.end,
                zone=zone,
                attendees=tuple(emails),
                join_url=event.join_url,
                status=SCHEDULED,
                conversation_id=turn.activity.conversation_root,
            ),
            services.clock(),
        )

    def meeting_card(
        meeting: Meeting, viewer_zone: str, *, note: str | None = None, color: str = "Accent"
    ) -> dict[str, Any]:
        return draw_meeting(cards, app, meeting, viewer_zone, note=note, color=color)

    async def create(
        turn: Turn,
        calendar: Calendar,
        *,
        subject: str,
        start: datetime,
        minutes: int,
        emails: list[str],
        transaction: str,
    ) -> tuple[dict[str, Any], Meeting | None]:
        """The meeting's card and the meeting; or a card saying why not, and None."""
        zone = await zone_of(turn)
        try:
            event = await calendar.create(
                subject=subject,
                start=start,
                end=start + timedelta(minutes=minutes),
                emails=emails,
                agenda=None,
                transaction_id=transaction,
            )
        except PermissionDenied:
            refusal = notice(
                "Permission needed",
                "Courier may not write to your calendar yet (Calendars.ReadWrite). Type consent, or ask your admin.",
            )
            return refusal, None
        except GraphError as exc:
            logger.warning("creating a meeting failed: %s", exc)
            failure = notice(
                "I couldn't create the meeting",
                "Microsoft Graph answered with an error; nothing was created. Try again in a minute.",
            )
            return failure, None
        meeting = await remember(turn, event, subject=subject, emails=emails, zone=zone, transaction=transaction)
        return meeting_card(meeting, zone), meeting

    async def keep_card(turn: Turn, meeting: Meeting | None, activity_id: str | None) -> None:
        """Remember where the meeting's card is, so calendar changes can redraw it; subscribe to those changes."""
        if meeting is None:
            return
        await MeetingStore(store.db).set_card(
            meeting.id, turn.activity.conversation_root, activity_id, services.clock()
        )
        user = user_ref(turn)
        if user is not None:
            await services.signals.meeting_created(user)

    def new_form(zone: str, values: Mapping[str, Any], problem: str | None = None) -> dict[str, Any]:
        return cards.render(
            "meeting_new", {"app_name": app, "subtitle": f"Times in {zone}", "problem": problem, "values": dict(values)}
        )

    async def pending(turn: Turn, text: str) -> None:
        """Keep what the user asked, so one click after signing in finishes it."""
        user = user_ref(turn)
        if user is not None:
            await store.put_value(PENDING, user.key, {"text": text, "conversation": turn.activity.conversation_root})

    @router.command(
        "schedule",
        description="Find a time and create a Teams meeting",
        example="schedule Design review with @Ana tomorrow afternoon for 30m",
        group="Meetings",
    )
    async def schedule(turn: Turn, request: CommandRequest) -> None:
        zone = await zone_of(turn)
        now = services.clock()
        if not request.args.strip():
            tomorrow = (now.astimezone(ZoneInfo(zone)) + timedelta(days=1)).date().isoformat()
            await turn.reply(Message(text="Schedule a meeting", card=new_form(zone, {"date": tomorrow})))
            return
        names = [
            m.account.name
            for m in turn.activity.mentions
            if m.account.id != turn.activity.recipient.id and m.account.name
        ]
        try:
            wanted = parse_meeting(request.args, now=now, zone=ZoneInfo(zone), mention_names=names)
        except MeetingParseError as exc:
            await turn.reply(Message(card=notice("I couldn't read that meeting", exc.message)))
            return
        try:
            calendar = await calendar_for(turn)
        except (NeedsSignIn, SignInRequired):
            await pending(turn, request.text)
            await ask_to_sign_in(turn)
            return
        emails = await attendees_of(turn, wanted)
        if wanted.channel_members and len(emails) >= MAX_ATTENDEES:
            await turn.reply(
                Message(
                    card=notice(
                        f"Inviting the first {MAX_ATTENDEES} members",
                        "A meeting invitation is not a broadcast; to reach everyone, send an announcement.",
                    )
                )
            )
        if wanted.start is not None:
            card, meeting = await create(
                turn,
                calendar,
                subject=wanted.subject,
                start=wanted.start,
                minutes=wanted.minutes,
                emails=emails,
                transaction=uuid.uuid4().hex,
            )
            activity_id = await turn.reply(Message(text=wanted.subject, card=card))
            await keep_card(turn, meeting, activity_id)
            return
        try:
            slots = await calendar.free_times(emails, list(wanted.windows), wanted.minutes)
        except PermissionDenied:
            await turn.reply(
                Message(
                    card=notice(
                        "Permission needed",
                        "Courier may not read calendars yet (Calendars.ReadWrite). Type consent, or ask your admin.",
                    )
                )
            )
            return
        except GraphError as exc:
            logger.warning("finding free times failed: %s", exc)
            await turn.reply(
                Message(
                    card=notice(
                        "I couldn't look up free times",
                        "Microsoft Graph answered with an error. Try again in a minute.",
                    )
                )
            )
            return
        if not slots:
            await turn.reply(
                Message(
                    card=notice(
                        "No common free time",
                        "Nobody is free together in that window. Try another day or a shorter meeting.",
                    )
                )
            )
            return
        card = options_card(wanted.subject, wanted.minutes, emails, slots, zone)
        await turn.reply(Message(text=f"Times for {wanted.subject}", card=card))

    @router.action("meeting.form")
    async def from_form(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        zone = await zone_of(turn)
        values = {k: str(v) for k, v in data.items() if isinstance(v, str | int) and k != "verb"}
        subject = values.get("subject", "").strip()[:255]
        emails = [e.strip().lower() for e in values.get("attendees", "").replace(";", ",").split(",") if e.strip()]
        bad = [e for e in emails if not EMAIL.fullmatch(e)]
        try:
            day = date.fromisoformat(values.get("date", ""))
            minutes = int(values.get("minutes", "30"))
        except ValueError:
            return new_form(zone, values, "Pick a date.")
        if not subject:
            return new_form(zone, values, "A subject is required.")
        if bad:
            return new_form(zone, values, f"These are not email addresses: {', '.join(bad)}.")
        try:
            calendar = await calendar_for(turn)
        except (NeedsSignIn, SignInRequired):
            return await sign_in_answer(turn, "Sign in so I can create the meeting, then press Schedule again.")
        tz = ZoneInfo(zone)
        if values.get("time"):
            try:
                start = localize(datetime.combine(day, time.fromisoformat(values["time"])), tz)
            except ValueError:
                return new_form(zone, values, "Pick a start time, or leave it empty to find a free time.")
            if start <= services.clock():
                return new_form(zone, values, "That time has passed.")
            card, meeting = await create(
                turn,
                calendar,
                subject=subject,
                start=start,
                minutes=minutes,
                emails=emails,
                transaction=f"form:{turn.activity.id}",
            )
            await keep_card(turn, meeting, turn.activity.reply_to_id)
            return card
        window = (
            max(localize(datetime.combine(day, time(9, 0)), tz), services.clock()),
            localize(datetime.combine(day, time(17, 0)), tz),
        )
        slots = await calendar.free_times(emails, [window], minutes) if window[1] > window[0] else []
        if not slots:
            return new_form(zone, values, "Nobody is free together that day; pick another day or a time.")
        return options_card(subject, minutes, emails, slots, zone)

    async def on_signed_in(signed_in: SignedIn) -> None:
        kept = await store.get_value(PENDING, signed_in.user.key)
        if not kept or services.proactive is None:
            return
        card = notice("Finish scheduling?", f"You asked: {str(kept['text'])[:200]}")
        card["actions"] = [
            {
                "type": "Action.Execute",
                "title": "Finish scheduling",
                "verb": "meeting.resume",
                "data": {"verb": "meeting.resume"},
            }
        ]
        try:
            await services.proactive.send(str(kept["conversation"]), Message(card=card))
        except NotDeliverable as exc:
            logger.info("could not offer to resume a schedule request: %s", exc)

    services.events.subscribe(SignedIn, on_signed_in)

    @router.action("meeting.resume")
    async def resume(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        user = user_ref(turn)
        kept = await store.take_value(PENDING, user.key) if user else None
        if not kept:
            return notice("Nothing to resume", "Ask again with schedule ….")
        await schedule(
            turn,
            CommandRequest(
                name="schedule", args=str(kept["text"]).removeprefix("schedule").strip(), text=str(kept["text"])
            ),
        )
        return notice("Resumed", "Your request continues below.")

    @router.extension(ExtensionKind.FETCH_TASK, "scheduleMeeting")
    async def schedule_from_compose(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
        """The form, prefilled from the message it was opened on: its text as the subject, its mentions invited."""
        zone = await zone_of(turn)
        raw = value.get("messagePayload")
        payload: dict[str, Any] = raw if isinstance(raw, dict) else {}
        body = payload.get("body") if isinstance(payload.get("body"), dict) else {}
        text = html.unescape(re.sub(r"<[^>]+>", " ", str((body or {}).get("content") or "")))
        subject = re.sub(r"\s+", " ", text).strip()[:120]
        emails: list[str] = []
        for mention in payload.get("mentions") or []:
            user = ((mention or {}).get("mentioned") or {}).get("user") or {}
            if not user.get("id"):
                continue
            with contextlib.suppress(Exception):
                (member,) = await services.roster(
                    turn.activity.service_url, turn.activity.conversation_root, str(user["id"])
                )
                address = member.get("email") or member.get("userPrincipalName")
                if address:
                    emails.append(str(address).lower())
        tomorrow = (services.clock().astimezone(ZoneInfo(zone)) + timedelta(days=1)).date().isoformat()
        values = {"subject": subject, "attendees": ", ".join(dict.fromkeys(emails)), "date": tomorrow}
        return responses.task_card("Schedule a meeting", new_form(zone, values), height="large")

    @router.extension(ExtensionKind.SUBMIT_ACTION, "scheduleMeeting")
    async def schedule_from_compose_submit(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
        raw = value.get("data")
        card = await from_form(turn, raw if isinstance(raw, dict) else {})
        assert card is not None
        if "meeting.form" in json.dumps(card):  # the form again, with the problem: keep the dialog open
            return responses.task_card("Schedule a meeting", card, height="large")
        # The meeting (or its free times) goes into the compose box, to post in this conversation.
        return responses.result_list([(card, "Meeting", "Teams meeting")])

    @router.action("meeting.pick")
    async def pick(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            start = datetime.fromisoformat(str(data["start"]))
            minutes = int(data["minutes"])
            subject = str(data["subject"])[:255]
            emails = [str(e) for e in data.get("attendees", [])][:MAX_ATTENDEES]
            proposal = str(data["proposal"])
        except (KeyError, ValueError, TypeError):
            return notice("That choice is broken", "Ask again with schedule ….")
        try:
            calendar = await calendar_for(turn)
        except (NeedsSignIn, SignInRequired):
            return await sign_in_answer(turn, "Sign in so I can create the meeting, then pick the time again.")
        if start <= services.clock():
            return notice("That time has passed", "Ask again with schedule … for new times.")
        card, meeting = await create(
            turn, calendar, subject=subject, start=start, minutes=minutes, emails=emails, transaction=proposal
        )
        await keep_card(turn, meeting, turn.activity.reply_to_id)  # the options card becomes the meeting card
        return card

    async def organized(turn: Turn, data: Mapping[str, Any]) -> tuple[Meeting | None, dict[str, Any] | None]:
        meeting = await MeetingStore(store.db).get(str(data.get("meeting", "")))
        if meeting is None:
            return None, notice("Unknown meeting", "It is not one Courier created.")
        if (turn.activity.sender.aad_object_id or "").lower() != meeting.organizer_id:
            zone = await zone_of(turn)
            return None, meeting_card(
                meeting,
                zone,
                note=f"Only the organizer ({meeting.organizer_name or 'who set it up'}) can change this meeting.",
                color="Attention",
            )
        return meeting, None

    @router.action("meeting.reschedule")
    async def reschedule(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        meeting, refusal = await organized(turn, data)
        if meeting is None:
            return refusal
        zone = await zone_of(turn)
        local = meeting.start_at.astimezone(ZoneInfo(zone))
        minutes = int((meeting.end_at - meeting.start_at).total_seconds() // 60)
        return cards.render(
            "meeting_form",
            {
                "app_name": app,
                "title": f"Move {meeting.subject}",
                "subtitle": f"Times in {zone}; attendees get the update",
                "problem": None,
                "values": {"date": local.date().isoformat(), "time": f"{local:%H:%M}", "minutes": str(minutes)},
                "button": "Move it",
                "verb": "meeting.move",
                "hidden": {"meeting": meeting.id},
            },
        )

    @router.action("meeting.move")
    async def move(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        meeting, refusal = await organized(turn, data)
        if meeting is None:
            return refusal
        zone = await zone_of(turn)
        try:
            start = localize(
                datetime.combine(date.fromisoformat(str(data["date"])), time.fromisoformat(str(data["time"]))),
                ZoneInfo(zone),
            )
            minutes = int(str(data.get("minutes", "30")))
        except (KeyError, ValueError):
            return notice("Pick a date and a time", "Both are needed to move the meeting.")
        if start <= services.clock():
            return notice("That time has passed", "Pick a time in the future.")
        try:
            calendar = await calendar_for(turn)
            event = await calendar.move(meeting.event_id, start, start + timedelta(minutes=minutes))
        except (NeedsSignIn, SignInRequired):
            return notice("Sign in again", "Your sign-in expired; type signin, then try again.")
        except GraphError as exc:
            logger.warning("moving a meeting failed: %s", exc)
            return meeting_card(
                meeting, zone, note="Outlook refused the change; the meeting is unchanged.", color="Attention"
            )
        await MeetingStore(store.db).moved(meeting.id, event.start, event.end, services.clock())
        moved = await MeetingStore(store.db).get(meeting.id)
        assert moved is not None
        return meeting_card(moved, zone, note="Moved; attendees were sent the update.")

    @router.action("meeting.cancel")
    async def cancel(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        meeting, refusal = await organized(turn, data)
        if meeting is None:
            return refusal
        zone = await zone_of(turn)
        try:
            calendar = await calendar_for(turn)
            await calendar.cancel(
                meeting.event_id, f"Cancelled from Teams by {meeting.organizer_name or 'the organizer'}."
            )
        except (NeedsSignIn, SignInRequired):
            return notice("Sign in again", "Your sign-in expired; type signin, then try again.")
        except GraphError as exc:
            logger.warning("cancelling a meeting failed: %s", exc)
            return meeting_card(
                meeting, zone, note="Outlook refused to cancel it; the meeting still stands.", color="Attention"
            )
        await MeetingStore(store.db).set_status(meeting.id, CANCELLED, services.clock())
        cancelled = await MeetingStore(store.db).get(meeting.id)
        assert cancelled is not None
        return meeting_card(cancelled, zone, note="Cancelled; attendees were notified.", color="Attention")

    @router.command(
        "meetings", description="Your upcoming meetings created with Courier", example="meetings", group="Meetings"
    )
    async def meetings(turn: Turn, request: CommandRequest) -> None:
        zone = await zone_of(turn)
        upcoming = await MeetingStore(store.db).upcoming(
            turn.activity.tenant_id or "", (turn.activity.sender.aad_object_id or "").lower(), services.clock()
        )
        if not upcoming:
            await turn.reply(
                Message(
                    card=notice(
                        "No upcoming meetings",
                        "None that Courier created. Try schedule Design review with @Ana tomorrow.",
                    )
                )
            )
            return
        lines = [f"{_span(m.start_at, m.end_at, zone)} · {m.subject}" for m in upcoming]
        await turn.reply(Message(card=notice("Your upcoming meetings", "\n\n".join(lines) + f"\n\nTimes in {zone}.")))


__all__ = ["Slot", "register"]
