"""Reminders in Teams: ``remind``, ``reminders``, ``timezone``, ``quiet``, the reminder card's buttons, and the
messaging extension action "Remind me about this"."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.features.reminders.parse import MAX_TEXT, ParsedReminder, ReminderParseError, parse_reminder
from bot.features.reminders.recurrence import next_occurrence
from bot.features.reminders.scheduler import describe
from bot.features.reminders.store import ACTIVE, CANCELLED, DONE, FIRED, Reminder, ReminderStore
from bot.platform.services import Services
from bot.platform.teams import extension as responses
from bot.platform.teams.router import CommandRequest, ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Message, Turn
from bot.platform.time import localize, user_key, user_zone, valid_zone

logger = logging.getLogger(__name__)

_QUIET = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
MAX_UPCOMING = 200  # per person: a runaway script cannot fill the table through chat


def register(router: Router, services: Services) -> None:  # noqa: PLR0915 - one feature's handlers, together
    store = services.store
    cards = services.cards
    app = services.settings.app_name

    notice = services.notice

    async def say(turn: Turn, title: str, text: str) -> None:
        await turn.reply(Message(text=title, card=notice(title, text)))

    def form(
        title: str, zone: str, values: Mapping[str, Any], *, problem: str | None = None, hidden: Mapping[str, Any]
    ) -> dict[str, Any]:
        return cards.render(
            "reminder_form",
            {
                "app_name": app,
                "title": title,
                "subtitle": f"Times in {zone}",
                "problem": problem,
                "values": values,
                "zone": zone,
                "button": "Set reminder",
                "hidden": dict(hidden),
            },
        )

    async def store_reminder(
        turn: Turn, parsed: ParsedReminder, zone: str, *, source_link: str | None = None
    ) -> tuple[Reminder | None, str]:
        """Create the reminder; returns it and a sentence for the user (or None and why not)."""
        tenant = turn.activity.tenant_id or services.settings.app_tenant_id or ""
        me = user_key(turn)
        if await ReminderStore(store.db).count_upcoming_by(tenant, me) >= MAX_UPCOMING:
            return None, f"You have {MAX_UPCOMING} reminders coming up already; delete some first (reminders)."
        target_kind = "user"
        target_user: str | None = me
        target_name: str | None = None
        conversation: str | None = None
        reminder_zone = zone
        if parsed.target.kind == "user":
            mention = next(
                (
                    m
                    for m in turn.activity.mentions
                    if (m.account.name or "").lower() == (parsed.target.name or "").lower()
                ),
                None,
            )
            if mention is None:
                return None, "Mention the person with @ so I know who they are."
            target_user = (mention.account.aad_object_id or mention.account.id).lower()
            target_name = mention.account.name
            theirs = await store.people.preferences(tenant, target_user)
            reminder_zone = next((str(z) for z in (theirs.zone, theirs.teams_zone) if valid_zone(z)), zone)
        elif parsed.target.kind == "here":
            target_kind, target_user, conversation = "conversation", None, turn.activity.conversation_root
        now = services.clock()
        when = parsed.when
        reminder = await ReminderStore(store.db).create(
            Reminder(
                id="",
                tenant_id=tenant,
                creator_id=me,
                creator_name=turn.activity.sender.name,
                target_kind=target_kind,
                target_user_id=target_user,
                target_name=target_name,
                conversation_id=conversation,
                origin_conversation_id=turn.activity.conversation_root,
                text=parsed.text,
                source_link=source_link,
                zone=reminder_zone,
                rule=when.rule,
                anchor=when.anchor,
                due_at=when.due,
                occurrence_at=when.due,
                status=ACTIVE,
            ),
            now,
        )
        services.signals.reminders_changed()
        who = {"user": f"{target_name}" if target_name else "you", "conversation": "this conversation"}[target_kind]
        if target_kind == "user" and target_user == me:
            who = "you"
        repeat = f", then {when.repeat}" if when.repeat else ""
        return reminder, f"I'll remind {who} {describe(when.due, reminder_zone, now=now)} ({reminder_zone}){repeat}."

    def confirmation(reminder: Reminder, sentence: str, hint: str | None) -> dict[str, Any]:
        card = notice("Reminder set", sentence + (f" {hint}" if hint else ""))
        card["actions"] = [
            {
                "type": "Action.Execute",
                "title": "Delete it",
                "verb": "reminder.delete",
                "data": {"verb": "reminder.delete", "reminder": reminder.id, "from": "confirmation"},
            }
        ]
        return card

    # -- remind -----------------------------------------------------------------------------------------
    @router.command(
        "remind",
        description="Set a reminder for you, someone else, or this chat or channel",
        example="remind me tomorrow at 9am to send the report",
        group="Reminders",
    )
    async def remind(turn: Turn, request: CommandRequest) -> None:
        zone, hint = await user_zone(services, turn)
        now = services.clock()
        local_now = now.astimezone(ZoneInfo(zone))
        if not request.args.strip():
            values = {"date": (local_now + timedelta(days=1)).date().isoformat(), "time": "09:00"}
            card = form("New reminder", zone, values, hidden={"target": "me"})
            await turn.reply(Message(text="New reminder", card=card))
            return
        names = [m.account.name for m in turn.activity.mentions if m.account.id != turn.activity.recipient.id]
        month_first = (turn.activity.locale or "en-US").lower() in {"en-us", "en-ph", "en-ca"}
        try:
            parsed = parse_reminder(
                request.args,
                now=now,
                zone=ZoneInfo(zone),
                mention_names=[n for n in names if n],
                month_first=month_first,
            )
        except ReminderParseError as exc:
            await say(turn, "I couldn't set that reminder", f"{exc.message} Or type remind alone for a form.")
            return
        if parsed.when.check:
            due = parsed.when.due.astimezone(ZoneInfo(zone))
            values = {
                "text": parsed.text,
                "date": due.date().isoformat(),
                "time": f"{due:%H:%M}",
                "repeat": parsed.when.rule or "none",
            }
            hidden = {"target": parsed.target.kind, "name": parsed.target.name or ""}
            card = form("Check this reminder", zone, values, problem=parsed.when.check, hidden=hidden)
            await turn.reply(Message(text="Check this reminder", card=card))
            return
        reminder, sentence = await store_reminder(turn, parsed, zone)
        if reminder is None:
            await say(turn, "I couldn't set that reminder", sentence)
            return
        await turn.reply(Message(text=sentence, card=confirmation(reminder, sentence, hint)))

    @router.action("reminder.create")
    async def create_from_card(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        zone, hint = await user_zone(services, turn)
        values = {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
        hidden = {k: values[k] for k in ("target", "name", "replaces", "link") if values.get(k)}
        try:
            parsed = parsed_from_form(values, zone=zone, now=services.clock())
        except ReminderParseError as exc:
            return form("Check this reminder", zone, values, problem=exc.message, hidden=hidden)
        replaces = values.get("replaces")
        old = await ReminderStore(store.db).get(replaces) if replaces else None
        if old is not None and old.creator_id != user_key(turn):
            return notice("Can't edit that", "Someone else set it.")
        reminder, sentence = await store_reminder(
            turn, parsed, zone, source_link=values.get("link") or (old.source_link if old else None)
        )
        if reminder is None:
            return form("Check this reminder", zone, values, problem=sentence, hidden=hidden)
        if old is not None:  # an edit: the new one replaces the old
            await ReminderStore(store.db).set_status(old.id, CANCELLED, services.clock(), from_statuses=(ACTIVE, FIRED))
        return confirmation(reminder, sentence, hint)

    def parsed_from_form(values: Mapping[str, str], *, zone: str, now: datetime) -> ParsedReminder:
        from bot.features.reminders.parse import Target, When

        text = values.get("text", "").strip()
        if not text:
            raise ReminderParseError("text", "Say what to be reminded of.")
        if len(text) > MAX_TEXT:
            raise ReminderParseError("text", f"Keep the text under {MAX_TEXT} characters (it has {len(text):,}).")
        try:
            day = date.fromisoformat(values.get("date", ""))
            clock = time.fromisoformat(values.get("time", ""))
        except ValueError:
            raise ReminderParseError("when", "Pick a date and a time.") from None
        tz = ZoneInfo(zone)
        due = localize(datetime.combine(day, clock.replace(second=0, microsecond=0)), tz)
        rule = values.get("repeat") or "none"
        if rule != "none":
            if not re.fullmatch(r"FREQ=(DAILY|WEEKLY|MONTHLY)(;INTERVAL=2)?(;BYDAY=MO,TU,WE,TH,FR)?", rule):
                raise ReminderParseError("repeat", "Pick a repetition from the list.")
            if "WEEKLY" in rule and "BYDAY" not in rule:
                rule += ";BYDAY=" + ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][due.weekday()]
            if rule == "FREQ=MONTHLY":
                rule += f";BYMONTHDAY={due.day}"
            first = next_occurrence(rule, first=due, after=now, zone=tz) if due <= now else due
            if first is None:
                raise ReminderParseError("repeat", "That repetition never happens.")
            return ParsedReminder(
                Target(values.get("target", "me") or "me", values.get("name") or None),
                text,
                When(first, rule, due, "repeating"),
            )
        if due <= now:
            raise ReminderParseError("when", f"{due:%a %b %d, %H:%M} has already passed. Pick a time in the future.")
        if due - now > timedelta(days=732):
            raise ReminderParseError("when", "That is more than two years away; pick a nearer date.")
        target = values.get("target", "me") or "me"
        if target not in {"me", "here", "user"}:
            target = "me"
        return ParsedReminder(Target(target, values.get("name") or None), text, When(due))

    # -- list and delete ---------------------------------------------------------------------------------
    async def upcoming(turn: Turn) -> list[Reminder]:
        if turn.activity.is_personal:
            return await ReminderStore(store.db).upcoming_for_user(turn.activity.tenant_id or "", user_key(turn))
        return await ReminderStore(store.db).upcoming_for_conversation(turn.activity.conversation_root)

    async def list_card(turn: Turn) -> dict[str, Any]:
        zone, hint = await user_zone(services, turn)
        now = services.clock()
        items = []
        for number, reminder in enumerate(await upcoming(turn), start=1):
            when = describe(reminder.due_at, zone, now=now)
            if reminder.rule:
                when += " · repeats"
            text = reminder.text
            if reminder.target_kind == "user" and reminder.target_user_id != user_key(turn):
                text += f" (for {reminder.target_name or 'someone else'})"
            items.append({"number": number, "id": reminder.id, "text": text, "when": when})
        title = "Your reminders" if turn.activity.is_personal else "Reminders in this conversation"
        subtitle = (
            f"Times in {zone}"
            + (" · " + hint if hint else "")
            + (" · reminders delete 2 removes the 2nd" if items else "")
        )
        return cards.render("reminders_list", {"app_name": app, "title": title, "subtitle": subtitle, "items": items})

    @router.command("reminders", description="List upcoming reminders", example="reminders", group="Reminders")
    async def reminders(turn: Turn, request: CommandRequest) -> None:
        await turn.reply(Message(text="Reminders", card=await list_card(turn)))

    @router.command(
        "reminders delete",
        description="Delete the n-th reminder of the list",
        example="reminders delete 2",
        group="Reminders",
    )
    async def delete_command(turn: Turn, request: CommandRequest) -> None:
        listed = await upcoming(turn)
        arg = request.args.strip()
        if not arg.isdigit() or not 1 <= int(arg) <= len(listed):
            await say(
                turn,
                "Which one?",
                f"Give a number from 1 to {len(listed)} as shown by reminders."
                if listed
                else "You have no upcoming reminders.",
            )
            return
        reminder = listed[int(arg) - 1]
        await ReminderStore(store.db).set_status(reminder.id, CANCELLED, services.clock(), from_statuses=(ACTIVE,))
        await say(turn, "Reminder deleted", f"\u201c{reminder.text[:200]}\u201d will not fire.")

    @router.action("reminder.delete")
    async def delete_action(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        reminder = await ReminderStore(store.db).get(str(data.get("reminder", "")))
        if reminder is None or user_key(turn) not in {reminder.creator_id, reminder.target_user_id}:
            return notice("Can't delete that", "It is gone already, or it is not yours.")
        await ReminderStore(store.db).set_status(
            reminder.id, CANCELLED, services.clock(), from_statuses=(ACTIVE, FIRED)
        )
        if data.get("from") == "confirmation":
            return notice("Reminder deleted", f"\u201c{reminder.text[:200]}\u201d will not fire.")
        return await list_card(turn)

    @router.action("reminder.edit")
    async def edit_action(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        reminder = await ReminderStore(store.db).get(str(data.get("reminder", "")))
        if reminder is None or reminder.status not in (ACTIVE, FIRED) or reminder.creator_id != user_key(turn):
            return notice("Can't edit that", "It is gone already, or someone else set it.")
        local = reminder.due_at.astimezone(ZoneInfo(reminder.zone))
        repeat = (reminder.rule or "none").split(";BYMONTHDAY")[0]
        if repeat.startswith("FREQ=WEEKLY") and "MO,TU,WE,TH,FR" not in repeat:
            repeat = repeat.split(";BYDAY")[0]
        values = {"text": reminder.text, "date": local.date().isoformat(), "time": f"{local:%H:%M}", "repeat": repeat}
        hidden = {
            "target": "here" if reminder.target_kind == "conversation" else "me",
            "name": "",
            "replaces": reminder.id,
        }
        if reminder.target_kind == "user" and reminder.target_user_id != reminder.creator_id:
            return notice("Can't edit that here", "Delete it and set a new one for them.")
        return form("Edit reminder", reminder.zone, values, hidden=hidden)

    # -- the reminder card's buttons --------------------------------------------------------------------
    async def owned(turn: Turn, data: Mapping[str, Any]) -> Reminder | None:
        reminder = await ReminderStore(store.db).get(str(data.get("reminder", "")))
        if reminder is None:
            return None
        if reminder.target_kind == "user" and user_key(turn) not in {reminder.creator_id, reminder.target_user_id}:
            return None
        return reminder

    def answered(reminder: Reminder, status_text: str) -> dict[str, Any]:
        return cards.render(
            "reminder",
            {
                "app_name": app,
                "subtitle": None,
                "text": reminder.text,
                "late": None,
                "link": reminder.source_link,
                "status_text": status_text,
                "actions": False,
                "reminder_id": reminder.id,
            },
        )

    @router.action("reminder.done")
    async def done(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        reminder = await owned(turn, data)
        if reminder is None:
            return notice("This reminder is gone", "It was deleted.")
        if reminder.rule:
            nxt = describe(reminder.due_at, reminder.zone, now=services.clock())
            return answered(reminder, f"✓ Done. Next time: {nxt}.")
        await ReminderStore(store.db).set_status(reminder.id, DONE, services.clock(), from_statuses=(FIRED, ACTIVE))
        return answered(reminder, "✓ Done.")

    async def snooze_to(turn: Turn, reminder: Reminder, until: datetime) -> dict[str, Any]:
        now = services.clock()
        if reminder.rule:  # the series goes on; this occurrence comes back once more
            await ReminderStore(store.db).create(
                Reminder(
                    id="",
                    tenant_id=reminder.tenant_id,
                    creator_id=reminder.creator_id,
                    creator_name=reminder.creator_name,
                    target_kind=reminder.target_kind,
                    target_user_id=reminder.target_user_id,
                    target_name=reminder.target_name,
                    conversation_id=reminder.conversation_id,
                    origin_conversation_id=reminder.origin_conversation_id,
                    text=reminder.text,
                    source_link=reminder.source_link,
                    zone=reminder.zone,
                    rule=None,
                    anchor=None,
                    due_at=until,
                    occurrence_at=until,
                    status=ACTIVE,
                ),
                now,
            )
        else:
            await ReminderStore(store.db).reschedule(reminder.id, until, now)
        services.signals.reminders_changed()
        return answered(reminder, f"Snoozed until {describe(until, reminder.zone, now=now)}.")

    @router.action("reminder.snooze")
    async def snooze(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        reminder = await owned(turn, data)
        if reminder is None:
            return notice("This reminder is gone", "It was deleted.")
        minutes = data.get("minutes")
        minutes = minutes if isinstance(minutes, int) and 1 <= minutes <= 24 * 60 else 15
        return await snooze_to(turn, reminder, services.clock() + timedelta(minutes=minutes))

    @router.action("reminder.tomorrow")
    async def tomorrow(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
        reminder = await owned(turn, data)
        if reminder is None:
            return notice("This reminder is gone", "It was deleted.")
        tz = ZoneInfo(reminder.zone)
        day = (services.clock().astimezone(tz) + timedelta(days=1)).date()
        return await snooze_to(turn, reminder, localize(datetime.combine(day, time(9, 0)), tz))

    # -- preferences ----------------------------------------------------------------------------------
    @router.command(
        "timezone",
        description="Show or set your time zone for reminders",
        example="timezone Europe/Paris",
        group="Reminders",
    )
    async def timezone(turn: Turn, request: CommandRequest) -> None:
        wanted = request.args.strip()
        if not wanted:
            zone, hint = await user_zone(services, turn)
            await say(turn, f"Your time zone: {zone}", hint or "Change it with timezone Europe/Paris (any IANA name).")
            return
        if valid_zone(wanted) is None:
            await say(
                turn, "Unknown time zone", f"'{wanted}' is not an IANA zone name. Try Europe/Paris or America/New_York."
            )
            return
        await store.people.set_preference(turn.activity.tenant_id or "", user_key(turn), services.clock(), zone=wanted)
        await say(turn, f"Time zone set to {wanted}", "New reminders use it; existing ones keep their zone.")

    @router.command(
        "quiet",
        description="Hold your reminders during quiet hours",
        example="quiet 20:00-08:00",
        group="Reminders",
    )
    async def quiet(turn: Turn, request: CommandRequest) -> None:
        arg = request.args.strip().lower()
        tenant, me, now = turn.activity.tenant_id or "", user_key(turn), services.clock()
        if arg in {"off", "none"}:
            await store.people.set_preference(tenant, me, now, quiet_start=None, quiet_end=None)
            await say(turn, "Quiet hours off", "Reminders reach you at any time.")
            return
        match = _QUIET.match(arg)
        if not match or not all(int(h) < 24 and int(m) < 60 for h, m in ((match[1], match[2]), (match[3], match[4]))):
            prefs = await store.people.preferences(tenant, me)
            current = f"{prefs.quiet_start}-{prefs.quiet_end}" if prefs.quiet_start else "off"
            await say(turn, f"Quiet hours: {current}", "Set them with quiet 20:00-08:00, or quiet off.")
            return
        start, end = f"{int(match[1]):02d}:{match[2]}", f"{int(match[3]):02d}:{match[4]}"
        await store.people.set_preference(tenant, me, now, quiet_start=start, quiet_end=end)
        await say(turn, f"Quiet hours {start}-{end}", "Reminders due then wait until the quiet hours end.")

    # -- "Remind me about this" (message action) ------------------------------------------------------
    @router.extension(ExtensionKind.FETCH_TASK, "remindAboutMessage")
    async def remind_about_message(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
        zone, _ = await user_zone(services, turn)
        raw_payload = value.get("messagePayload")
        payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
        raw_body = payload.get("body")
        body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
        content = str(body.get("content") or "")
        plain = html.unescape(re.sub(r"<[^>]+>", " ", content))
        plain = re.sub(r"\s+", " ", plain).strip()[:MAX_TEXT]
        link = str(payload.get("linkToMessage") or "")
        local = services.clock().astimezone(ZoneInfo(zone)) + timedelta(hours=1)
        values = {"text": plain, "date": local.date().isoformat(), "time": f"{local:%H}:00", "link": link}
        card = form("Remind me about this", zone, values, hidden={"target": "me", "link": link})
        return responses.task_card("Remind me about this", card, height="large")

    @router.extension(ExtensionKind.SUBMIT_ACTION, "remindAboutMessage")
    async def remind_about_message_submit(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
        data = value.get("data") if isinstance(value.get("data"), dict) else {}
        card = await create_from_card(turn, data if isinstance(data, dict) else {})
        assert card is not None
        if "Reminder set" in str(card):
            return InvokeResponse(status=200, body={"task": {"type": "message", "value": "Reminder set."}})
        return responses.task_card("Remind me about this", card, height="large")


UNINSTALL_GRACE = timedelta(days=7)


def register_lifecycle(router: Router, services: Services) -> None:
    """Uninstall suspends a person's reminders (purged after a grace period; reinstalling restores them); a
    channel that is deleted, or a chat Courier leaves, disables its reminders and tells whoever set them."""
    from bot.platform.teams.router import Event

    store = services.store

    @router.on(Event.UNINSTALLED)
    async def uninstalled(turn: Turn) -> None:
        now = services.clock()
        activity = turn.activity
        if activity.is_personal and activity.tenant_id:
            count = await ReminderStore(store.db).suspend_for_user(
                activity.tenant_id, user_key(turn), now, grace=UNINSTALL_GRACE
            )
            logger.info("uninstalled: %d reminders suspended for %s", count, UNINSTALL_GRACE)
            return
        disabled = await ReminderStore(store.db).disable_for_conversation(turn.activity.conversation_root, now)
        logger.info("removed from a conversation: %d reminders disabled", len(disabled))

    @router.on(Event.INSTALLED)
    async def installed(turn: Turn) -> None:
        activity = turn.activity
        if activity.is_personal and activity.tenant_id:
            restored = await ReminderStore(store.db).resume_for_user(
                activity.tenant_id, user_key(turn), services.clock()
            )
            if restored:
                services.signals.reminders_changed()
                logger.info("reinstalled: %d reminders restored", restored)

    @router.on(Event.CHANNEL_CHANGED)
    async def channel_changed(turn: Turn) -> None:
        activity = turn.activity
        if activity.event_type != "channelDeleted" or not activity.channel_id_teams:
            return
        disabled = await ReminderStore(store.db).disable_for_conversation(activity.channel_id_teams, services.clock())
        for reminder in disabled:
            card = services.notice(
                "A channel reminder is off",
                f"The channel of \u201c{reminder.text[:120]}\u201d was deleted, so the reminder is off.",
            )
            if services.proactive is not None:
                try:
                    conversation = await store.find_personal_conversation(reminder.tenant_id, reminder.creator_id)
                    if conversation is not None:
                        await services.proactive.send(conversation.conversation_id, Message(card=card))
                except Exception:
                    logger.exception("could not tell a reminder's creator that its channel is gone")
