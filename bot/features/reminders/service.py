"""The rules of reminders, apart from Teams: who a reminder is for, how many one may have, which repetitions a form
may ask for, quiet hours, snoozing, editing and deleting, and what uninstalling or losing a channel does to them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.features.reminders.parse import ParsedReminder, ReminderParseError, Target
from bot.features.reminders.recurrence import next_occurrence
from bot.features.reminders.store import ACTIVE, CANCELLED, DONE, FIRED, Reminder, ReminderStore
from bot.platform.i18n import N_, _
from bot.platform.storage.base import Store
from bot.platform.time import format_time, localize, valid_zone

MAX_UPCOMING = 200  # per person: a runaway script cannot fill the table through chat
UNINSTALL_GRACE = timedelta(days=7)  # an uninstalled person's reminders wait this long for a reinstall
SNOOZE_MINUTES = 15
MAX_SNOOZE_MINUTES = 24 * 60
TOMORROW_AT = time(9, 0)
FORM_RECURRENCES = re.compile(r"FREQ=(DAILY|WEEKLY|MONTHLY)(;INTERVAL=2)?(;BYDAY=MO,TU,WE,TH,FR)?")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


# -- time, as people read it ------------------------------------------------------------------------------------
def describe(when: datetime, zone: str, *, now: datetime | None = None) -> str:
    """When, for people, where the card names the zone once: ``today 14:30`` / ``Tue Mar 10, 14:30``
    (:func:`bot.platform.time.format_time` without the label)."""
    return format_time(when, zone, now=now, label=False)


def in_quiet_hours(local: datetime, start: str | None, end: str | None) -> datetime | None:
    """If ``local`` falls in the quiet window "start-end" (may span midnight), the local time it ends; else None."""
    if not start or not end:
        return None
    begin, finish = time.fromisoformat(start), time.fromisoformat(end)
    now = local.time().replace(second=0, microsecond=0)
    if begin == finish:
        return None
    spans_midnight = begin > finish
    inside = (begin <= now or now < finish) if spans_midnight else (begin <= now < finish)
    if not inside:
        return None
    end_day = local.date()
    if spans_midnight and now >= begin:
        end_day = end_day + timedelta(days=1)
    return datetime.combine(end_day, finish)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A quiet window ("20:00", "08:00"), or none at all (both None: quiet hours off)."""

    start: str | None
    end: str | None

    @property
    def off(self) -> bool:
        return self.start is None


QUIET_OFF = frozenset({"off", "none", "aus", "désactivé", "desactive", "apagado", "no", "desligado", "オフ"})


def parse_quiet(words: str) -> QuietHours | None:
    """``quiet 20:00-08:00`` / ``quiet off``; None when the words are neither (then the current window is shown)."""
    arg = words.strip().lower()
    if arg in QUIET_OFF:
        return QuietHours(None, None)
    match = _QUIET.match(arg)
    if not match or not all(int(h) < 24 and int(m) < 60 for h, m in ((match[1], match[2]), (match[3], match[4]))):
        return None
    return QuietHours(f"{int(match[1]):02d}:{match[2]}", f"{int(match[3]):02d}:{match[4]}")


def snooze_until(now: datetime, minutes: object) -> datetime:
    """A snooze of ``minutes`` (1 minute to a day; anything else is the usual 15) from now."""
    if isinstance(minutes, int) and 1 <= minutes <= MAX_SNOOZE_MINUTES:
        return now + timedelta(minutes=minutes)
    return now + timedelta(minutes=SNOOZE_MINUTES)


def tomorrow_morning(now: datetime, zone: str) -> datetime:
    """09:00 tomorrow in ``zone`` (the reminder's own)."""
    tz = ZoneInfo(zone)
    day = (now.astimezone(tz) + timedelta(days=1)).date()
    return localize(datetime.combine(day, TOMORROW_AT), tz)


def form_recurrence(rule: str, due: datetime) -> str:
    """A repetition picked on the form, completed from its first time (the weekday of "every week", the day of
    "every month"); ReminderParseError for one the form does not offer."""
    if not FORM_RECURRENCES.fullmatch(rule):
        raise ReminderParseError("repeat", _("Pick a repetition from the list."))
    if "WEEKLY" in rule and "BYDAY" not in rule:
        rule += ";BYDAY=" + WEEKDAYS[due.weekday()]
    if rule == "FREQ=MONTHLY":
        rule += f";BYMONTHDAY={due.day}"
    return rule


def form_choice(rule: str | None) -> str:
    """The form's repetition choice for a stored rule (the inverse of :func:`form_recurrence`)."""
    choice = (rule or "none").split(";BYMONTHDAY")[0]
    if choice.startswith("FREQ=WEEKLY") and "MO,TU,WE,TH,FR" not in choice:
        choice = choice.split(";BYDAY")[0]
    return choice


def first_time(rule: str, due: datetime, *, now: datetime, zone: ZoneInfo) -> datetime | None:
    """When a repeating reminder first fires: ``due``, or its next occurrence when ``due`` has passed."""
    return next_occurrence(rule, first=due, after=now, zone=zone) if due <= now else due


# -- who it is for ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Person:
    key: str  # Entra object id (or Teams id), lower case
    name: str | None


@dataclass(frozen=True, slots=True)
class Author:
    """Who sets a reminder, and where: the conversation they are in, their zone."""

    tenant_id: str
    person: Person
    conversation_id: str
    zone: str


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: str  # "user" | "conversation"
    user_id: str | None
    name: str | None
    conversation_id: str | None
    zone: str


@dataclass(frozen=True, slots=True)
class Created:
    reminder: Reminder
    sentence: str  # "I'll remind you today 10:20 (Europe/Paris)."


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


def is_mine(reminder: Reminder, me: str) -> bool:
    """Whether ``me`` set it or receives it (both may delete it and answer its card)."""
    return me in {reminder.creator_id, reminder.target_user_id}


def may_answer(reminder: Reminder, me: str) -> bool:
    """A personal reminder answers its setter and its recipient; one in a chat or channel, anyone there."""
    return reminder.target_kind != "user" or is_mine(reminder, me)


NOT_EDITABLE = (N_("Can't edit that"), N_("It is gone already, or someone else set it."))


def edit_refusal(reminder: Reminder, me: str) -> tuple[str, str] | None:
    """Why ``me`` may not edit it (title, text), or None: only its setter, while it is still to come or just fired,
    and not one set for someone else (that one is deleted and set again)."""
    if reminder.status not in (ACTIVE, FIRED) or reminder.creator_id != me:
        return NOT_EDITABLE
    if reminder.target_kind == "user" and reminder.target_user_id != reminder.creator_id:
        return N_("Can't edit that here"), N_("Delete it and set a new one for them.")
    return None


def sentence(recipient: Recipient, author: Author, reminder: ParsedReminder, *, now: datetime) -> str:
    """The confirmation: who, about what, when (in the zone the person reads, labelled), and how it repeats:
    "I'll remind you about “call Ana” today 11:20 (Europe/Paris), then every weekday at 09:00." A reminder for
    someone in another zone says theirs too."""
    yourself = recipient.kind == "user" and (recipient.user_id == author.person.key or not recipient.name)
    when = reminder.when
    theirs = recipient.kind == "user" and not yourself and recipient.zone != author.zone
    other = (recipient.name or _("them"), recipient.zone) if theirs else None
    at = format_time(when.due, author.zone, now=now, other=other)
    then = ""
    if when.repeat:
        then = _(", then {repeat}", repeat=when.repeat) + (f" ({recipient.zone})" if theirs else "")
    text = reminder.text[:200]
    if recipient.kind == "conversation":
        return _("I'll remind this conversation about \u201c{text}\u201d {when}{then}.", text=text, when=at, then=then)
    if yourself:
        return _("I'll remind you about \u201c{text}\u201d {when}{then}.", text=text, when=at, then=then)
    return _(
        "I'll remind {name} about \u201c{text}\u201d {when}{then}.", name=recipient.name, text=text, when=at, then=then
    )


class ReminderService:
    def __init__(self, reminders: ReminderStore, store: Store, clock: Callable[[], datetime]) -> None:
        self._reminders = reminders
        self._store = store  # its people's preferences, read when used
        self._clock = clock

    async def recipient(self, author: Author, target: Target, mentioned: Sequence[Person]) -> Recipient | Refused:
        """me: the author, in their zone; @someone: the mentioned person, in their zone if they set one; here:
        the conversation the author is in."""
        if target.kind == "here":
            return Recipient("conversation", None, None, author.conversation_id, author.zone)
        if target.kind != "user":
            return Recipient("user", author.person.key, None, None, author.zone)
        wanted = (target.name or "").lower()
        person = next((p for p in mentioned if (p.name or "").lower() == wanted), None)
        if person is None:
            return Refused(_("Mention the person with @ so I know who they are."))
        theirs = await self._store.people.preferences(author.tenant_id, person.key)
        zone = next((str(z) for z in (theirs.zone, theirs.teams_zone) if valid_zone(z)), author.zone)
        return Recipient("user", person.key, person.name, None, zone)

    async def create(
        self, author: Author, parsed: ParsedReminder, mentioned: Sequence[Person], *, source_link: str | None = None
    ) -> Created | Refused:
        """Store a new reminder, unless its author has :data:`MAX_UPCOMING` coming up already (reminders they set
        for a chat or channel count too) or the person it is for was not mentioned."""
        if await self._reminders.count_upcoming_by(author.tenant_id, author.person.key) >= MAX_UPCOMING:
            return Refused(
                _("You have {count} reminders coming up already; delete some first (reminders).", count=MAX_UPCOMING)
            )
        recipient = await self.recipient(author, parsed.target, mentioned)
        if isinstance(recipient, Refused):
            return recipient
        now, when = self._clock(), parsed.when
        reminder = await self._reminders.create(
            Reminder(
                id="",
                tenant_id=author.tenant_id,
                creator_id=author.person.key,
                creator_name=author.person.name,
                target_kind=recipient.kind,
                target_user_id=recipient.user_id,
                target_name=recipient.name,
                conversation_id=recipient.conversation_id,
                origin_conversation_id=author.conversation_id,
                text=parsed.text,
                source_link=source_link,
                zone=recipient.zone,
                rule=when.rule,
                anchor=when.anchor,
                due_at=when.due,
                occurrence_at=when.due,
                status=ACTIVE,
            ),
            now,
        )
        return Created(reminder, sentence(recipient, author, parsed, now=now))

    async def get(self, reminder_id: object) -> Reminder | None:
        return await self._reminders.get(str(reminder_id or ""))

    async def replaced(self, old: Reminder) -> None:
        """An edit saved: the new reminder replaces ``old``."""
        await self._reminders.set_status(old.id, CANCELLED, self._clock(), from_statuses=(ACTIVE, FIRED))

    async def delete(self, reminder: Reminder, *, waiting_only: bool = False) -> None:
        statuses = (ACTIVE,) if waiting_only else (ACTIVE, FIRED)
        await self._reminders.set_status(reminder.id, CANCELLED, self._clock(), from_statuses=statuses)

    async def done(self, reminder: Reminder, zone: str) -> str:
        """Answer "Done": a repeating reminder goes on (the status says when next, in ``zone``: the reader's), a
        one-off is done."""
        if reminder.rule:
            return "✓ " + _("Done. Next time: {when}.", when=format_time(reminder.due_at, zone, now=self._clock()))
        await self._reminders.set_status(reminder.id, DONE, self._clock(), from_statuses=(FIRED, ACTIVE))
        return "✓ " + _("Done.")

    async def snooze(self, reminder: Reminder, until: datetime, zone: str) -> str:
        """A one-off moves to ``until``; a repeating one keeps its series and this occurrence comes back once more
        (a one-off copy). Returns the status line for the card, in ``zone`` (the reader's)."""
        now = self._clock()
        if reminder.rule:
            once = replace(reminder, id="", rule=None, anchor=None, due_at=until, occurrence_at=until, status=ACTIVE)
            await self._reminders.create(once, now)
        else:
            await self._reminders.reschedule(reminder.id, until, now)
        return _("Snoozed until {when}.", when=format_time(until, zone, now=now))

    async def upcoming_for_user(self, tenant_id: str, me: str, *, limit: int = 20) -> list[Reminder]:
        return await self._reminders.upcoming_for_user(tenant_id, me, limit=limit)

    async def mine(self, tenant_id: str, me: str, reminder_id: str) -> Reminder | None:
        """A reminder ``me`` set or receives, still to come or just fired; None for anything else."""
        reminder = await self._reminders.get(reminder_id) if reminder_id else None
        if reminder is None or reminder.tenant_id != tenant_id or not is_mine(reminder, me):
            return None
        return reminder if reminder.status in (ACTIVE, FIRED) else None

    async def upcoming_for_conversation(self, conversation_id: str) -> list[Reminder]:
        return await self._reminders.upcoming_for_conversation(conversation_id)

    # -- preferences -----------------------------------------------------------------------------------------
    async def set_zone(self, tenant_id: str, me: str, zone: str) -> None:
        await self._store.people.set_preference(tenant_id, me, self._clock(), zone=zone)

    async def quiet_hours(self, tenant_id: str, me: str) -> QuietHours:
        prefs = await self._store.people.preferences(tenant_id, me)
        return QuietHours(prefs.quiet_start, prefs.quiet_end) if prefs.quiet_start else QuietHours(None, None)

    async def set_quiet_hours(self, tenant_id: str, me: str, quiet: QuietHours) -> None:
        await self._store.people.set_preference(
            tenant_id, me, self._clock(), quiet_start=quiet.start, quiet_end=quiet.end
        )

    # -- installation ----------------------------------------------------------------------------------------
    async def suspend_for(self, tenant_id: str, me: str) -> int:
        """Courier uninstalled from someone's personal scope: their reminders wait :data:`UNINSTALL_GRACE`."""
        return await self._reminders.suspend_for_user(tenant_id, me, self._clock(), grace=UNINSTALL_GRACE)

    async def resume_for(self, tenant_id: str, me: str) -> int:
        return await self._reminders.resume_for_user(tenant_id, me, self._clock())

    async def disable_in(self, conversation_id: str) -> list[Reminder]:
        """The chat or channel is gone (or Courier left it): its reminders are off."""
        return await self._reminders.disable_for_conversation(conversation_id, self._clock())
