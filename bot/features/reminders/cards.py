"""The reminder cards, drawn from typed data: the form, the confirmation, the list, the card that fires and the same
card once answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.features.reminders.forms import ReminderForm
from bot.features.reminders.service import describe
from bot.features.reminders.store import Reminder
from bot.platform.cards import CardRenderer
from bot.platform.i18n import N_, _
from bot.platform.time import format_time

FORM_BUTTON = N_("Set reminder")


@dataclass(frozen=True, slots=True)
class ListedReminder:
    number: int  # what ``reminders delete <n>`` takes
    id: str
    text: str
    when: str


def listed(reminders: Sequence[Reminder], *, zone: str, now: datetime, me: str) -> list[ListedReminder]:
    """The list's lines, numbered from 1, times in the reader's zone; one set for someone else says for whom."""
    items = []
    for number, reminder in enumerate(reminders, start=1):
        when = describe(reminder.due_at, zone, now=now) + (" · " + _("repeats") if reminder.rule else "")
        text = reminder.text
        if reminder.target_kind == "user" and reminder.target_user_id != me:
            text += " " + _("(for {name})", name=reminder.target_name or _("someone else"))
        items.append(ListedReminder(number, reminder.id, text, when))
    return items


def from_someone_else(reminder: Reminder) -> bool:
    return reminder.target_kind == "user" and reminder.creator_id != reminder.target_user_id


class ReminderCards:
    def __init__(self, renderer: CardRenderer, app_name: str) -> None:
        self._renderer = renderer
        self._app = app_name

    def notice(self, title: str, text: str) -> dict[str, Any]:
        return self._renderer.render("notice", {"app_name": self._app, "title": title, "text": text})

    def form(self, form: ReminderForm, *, dialog: bool = False) -> dict[str, Any]:
        """The form; in a dialog (the message action) it submits with Action.Submit, in a chat with Action.Execute."""
        return self._renderer.render(
            "reminder_form",
            {
                "app_name": self._app,
                "title": _(form.title),
                "subtitle": _("Times in {zone}", zone=form.zone),
                "problem": form.problem,
                "values": form.values.data(),
                "zone": form.zone,
                "button": _(FORM_BUTTON),
                "hidden": form.hidden.data(),
                "dialog": dialog,
            },
        )

    def confirmation(self, reminder_id: str, text: str) -> dict[str, Any]:
        """The "Reminder set" card: what will happen, and a button to delete it again."""
        return self._renderer.render("reminder_set", {"app_name": self._app, "text": text, "reminder_id": reminder_id})

    def listing(self, title: str, subtitle: str, items: Sequence[ListedReminder]) -> dict[str, Any]:
        lines = [{"number": i.number, "id": i.id, "text": i.text, "when": i.when} for i in items]
        return self._renderer.render(
            "reminders_list", {"app_name": self._app, "title": title, "subtitle": subtitle, "items": lines}
        )

    def due(self, reminder: Reminder, *, zone: str, late: str | None) -> dict[str, Any]:
        """The card that fires: who set it (when someone else did), when it was due (in ``zone``: the reader's,
        labelled), Done and Snooze buttons."""
        name = reminder.creator_name or _("a colleague")
        setter = _("From {name}", name=name) + " · " if from_someone_else(reminder) else ""
        repeat = " · " + _("repeats") if reminder.rule else ""
        subtitle = setter + _("due {when}", when=format_time(reminder.occurrence_at, zone)) + repeat
        return self._reminder(reminder, subtitle=subtitle, late=late, status_text=None)

    def answered(self, reminder: Reminder, status_text: str) -> dict[str, Any]:
        """The fired card once answered (done, snoozed): its text and the outcome, no buttons."""
        return self._reminder(reminder, subtitle=None, late=None, status_text=status_text)

    def _reminder(
        self, reminder: Reminder, *, subtitle: str | None, late: str | None, status_text: str | None
    ) -> dict[str, Any]:
        return self._renderer.render(
            "reminder",
            {
                "app_name": self._app,
                "subtitle": subtitle,
                "text": reminder.text,
                "late": late,
                "link": reminder.source_link,
                "status_text": status_text,
                "actions": status_text is None,
                "reminder_id": reminder.id,
            },
        )
