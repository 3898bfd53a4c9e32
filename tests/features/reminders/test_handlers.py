"""Reminders in chat: set in words, checked when ambiguous, listed, deleted, edited, answered (done, snoozed);
zone and quiet hours; the form and the message action. Driven through the real router and middleware, without HTTP,
on the fake clock (Tuesday 2026-03-10 10:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.features.reminders.store import ReminderStore
from tests.support.bot import Bot
from tests.support.cards import card_inputs as inputs
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.turns import BOT_ID, TENANT, USER_AAD, RecordingTurn, activity

BEN = "bbbbbbbb-0000-4000-8000-000000000000"
CHANNEL = "19:general@thread.tacv2"


def say(text: str, **extra: Any) -> dict[str, Any]:
    return activity("message", text=text, localTimezone="Europe/Paris", **extra)


def invoke(verb: str, data: dict[str, Any]) -> dict[str, Any]:
    action = {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}}
    return activity("invoke", name="adaptiveCard/action", value={"action": action}, localTimezone="Europe/Paris")


def texts(turn: RecordingTurn) -> str:
    return " ".join(" ".join(card_texts(s.message.card)) for s in turn.sent if s.message.card)


def answer(turn: RecordingTurn) -> dict[str, Any]:
    """The card an invoke answered with (in place of the clicked one)."""
    response = turn.state.invoke_response
    assert response is not None and response.body is not None
    card: dict[str, Any] = response.body["value"]
    return card


def answered(turn: RecordingTurn) -> str:
    return " ".join(card_texts(answer(turn)))


def store(bot: Bot) -> ReminderStore:
    return ReminderStore(bot.store)


async def upcoming(bot: Bot) -> int:
    return await store(bot).count_upcoming_by(TENANT, USER_AAD)


async def mine(bot: Bot) -> list[Any]:
    return list(await store(bot).upcoming_for_user(TENANT, USER_AAD))


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return list(card.get("actions", []))


async def test_a_reminder_in_words_is_stored_and_confirmed_in_my_zone(bot: Bot) -> None:
    turn = await bot.turn(say("remind me in 20 minutes to call Ana"))
    assert "I'll remind you about “call Ana” today 11:20 (Europe/Paris)." in texts(turn)
    (reminder,) = await mine(bot)
    assert reminder.text == "call Ana" and reminder.zone == "Europe/Paris" and reminder.target_user_id == USER_AAD


async def test_the_confirmation_offers_to_delete_the_reminder_it_set(bot: Bot) -> None:
    turn = await bot.turn(say("remind me in 20 minutes to call Ana"))
    (reminder,) = await mine(bot)
    card = turn.sent[0].message.card
    assert card is not None and "Reminder set" in card_texts(card)
    (delete,) = actions(card)
    assert delete["title"] == "Delete it" and delete["verb"] == "reminder.delete"
    assert delete["data"] == {"verb": "reminder.delete", "reminder": reminder.id, "from": "confirmation"}


async def test_deleting_from_the_confirmation_cancels_it(bot: Bot) -> None:
    turn = await bot.turn(say("remind me in 20 minutes to call Ana"))
    card = turn.sent[0].message.card
    assert card is not None
    deleted = await bot.turn(invoke("reminder.delete", actions(card)[0]["data"]))
    assert "Reminder deleted" in answered(deleted) and "call Ana" in answered(deleted)
    assert await upcoming(bot) == 0


async def test_an_ambiguous_date_asks_to_confirm_and_stores_nothing_yet(bot: Bot) -> None:
    turn = await bot.turn(say("remind me on 3/12 at 14:30 to pay", locale="fr-FR"))
    card = turn.sent[0].message.card
    assert card is not None and "Vérifiez ce rappel" in texts(turn)  # in French, as Teams says the person reads
    assert inputs(card)["date"]["value"].endswith("-12-03")
    assert await upcoming(bot) == 0


async def test_confirming_the_checked_card_stores_it(bot: Bot) -> None:
    data = {"text": "pay", "date": "2027-06-03", "time": "14:30", "repeat": "none", "target": "me"}
    turn = await bot.turn(invoke("reminder.create", data))
    assert "Reminder set" in answered(turn)
    assert await upcoming(bot) == 1


async def test_a_form_for_a_time_already_past_comes_back_with_the_problem(bot: Bot) -> None:
    data = {"text": "pay", "date": "2026-03-09", "time": "14:30", "repeat": "none", "target": "me"}
    turn = await bot.turn(invoke("reminder.create", data))
    assert "Check this reminder" in answered(turn) and "has already passed" in answered(turn)
    assert inputs(answer(turn))["text"]["value"] == "pay"
    assert await upcoming(bot) == 0


async def test_a_form_repeating_every_week_repeats_on_the_weekday_of_its_date(bot: Bot) -> None:
    data = {"text": "plan", "date": "2026-03-12", "time": "10:00", "repeat": "FREQ=WEEKLY", "target": "me"}
    await bot.turn(invoke("reminder.create", data))
    (reminder,) = await mine(bot)
    assert reminder.rule == "FREQ=WEEKLY;BYDAY=TH"


async def test_a_repeating_form_reminder_says_how_it_repeats(bot: Bot) -> None:
    data = {"text": "standup", "date": "2026-03-11", "time": "09:00", "target": "me"}
    turn = await bot.turn(invoke("reminder.create", {**data, "repeat": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}))
    assert "Wed Mar 11, 09:00 (Europe/Paris), then every weekday at 09:00." in answered(turn)


async def test_a_repeating_reminder_in_words_says_how_it_repeats(bot: Bot) -> None:
    turn = await bot.turn(say("remind me every Monday at 10:00 to plan the week"))
    assert "then every Monday at 10:00." in texts(turn)


async def test_a_form_with_a_repetition_it_does_not_offer_is_refused(bot: Bot) -> None:
    data = {"text": "plan", "date": "2026-03-12", "time": "10:00", "repeat": "FREQ=HOURLY", "target": "me"}
    turn = await bot.turn(invoke("reminder.create", data))
    assert "Pick a repetition from the list." in answered(turn)
    assert await upcoming(bot) == 0


async def test_bad_input_is_answered_and_nothing_is_stored(bot: Bot) -> None:
    for text, says in (
        ("remind me yesterday at 9:00 to x", "Check this reminder"),
        ("remind me every 10 years to renew", "repeats too rarely"),
        ("remind me blah to x", "couldn't read"),
        ("remind me tomorrow to " + "x" * 2000, "2,000 characters"),
    ):
        turn = await bot.turn(say(text))
        assert says in texts(turn), text
    assert await upcoming(bot) == 0


async def test_remind_alone_opens_the_form_for_tomorrow_at_nine(bot: Bot) -> None:
    turn = await bot.turn(say("remind"))
    card = turn.sent[0].message.card
    assert card is not None
    assert {"text", "date", "time", "repeat"} <= set(inputs(card))
    assert inputs(card)["date"]["value"] == "2026-03-11" and inputs(card)["time"]["value"] == "09:00"


async def test_reminders_lists_them_and_delete_removes_the_nth(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    await bot.turn(say("remind me every weekday at 9:00 to post the standup"))
    listed = await bot.turn(say("reminders"))
    assert "call Ana" in texts(listed) and "post the standup" in texts(listed)
    await bot.turn(say("reminders delete 1"))
    assert await upcoming(bot) == 1
    remaining = await bot.turn(say("reminders"))
    assert "call Ana" not in texts(remaining)


async def test_reminders_delete_with_no_such_number_asks_which(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    turn = await bot.turn(say("reminders delete 5"))
    assert "Which one?" in texts(turn) and "from 1 to 1" in texts(turn)
    assert await upcoming(bot) == 1


async def test_a_channel_reminder_targets_the_channel(bot: Bot) -> None:
    turn = await bot.turn(
        say("remind here every Monday at 10:00 to plan", conversation_type="channel", mention_bot=True)
    )
    assert "I'll remind this conversation" in texts(turn)
    (reminder,) = await store(bot).upcoming_for_conversation(CHANNEL)
    assert reminder.target_kind == "conversation" and reminder.rule == "FREQ=WEEKLY;BYDAY=MO"


def mention_ben(message: dict[str, Any]) -> dict[str, Any]:
    message["entities"] = [
        {
            "type": "mention",
            "text": "<at>Ben Ito</at>",
            "mentioned": {"id": "29:ben", "name": "Ben Ito", "aadObjectId": BEN},
        }
    ]
    return message


async def test_reminding_someone_else_needs_their_mention(bot: Bot) -> None:
    turn = await bot.turn(say("remind Ben Ito on Friday to send the contract"))
    assert "Say who to remind" in texts(turn)
    assert await upcoming(bot) == 0


async def test_reminding_a_mentioned_person_is_for_them(bot: Bot) -> None:
    turn = await bot.turn(mention_ben(say("remind Ben Ito on Friday to send the contract")))
    assert "I'll remind Ben Ito" in texts(turn)
    (reminder,) = await mine(bot)
    assert reminder.target_user_id == BEN and reminder.creator_id == USER_AAD


async def test_a_reminder_for_someone_else_says_the_time_in_my_zone_and_in_theirs(bot: Bot, clock: FakeClock) -> None:
    await bot.store.people.set_preference(TENANT, BEN, clock(), zone="America/New_York")
    turn = await bot.turn(mention_ben(say("remind Ben Ito on Friday at 9am to send the contract")))
    # What I typed is read in my zone; the card says whose zone each time is.
    assert "Fri Mar 13, 09:00 (Europe/Paris; 04:00 for Ben Ito, America/New_York)" in texts(turn)


async def test_timezone_is_shown_and_set(bot: Bot) -> None:
    assert "Europe/Paris" in texts(await bot.turn(say("timezone")))
    assert "Unknown time zone" in texts(await bot.turn(say("timezone Mars/Olympus")))
    await bot.turn(say("timezone America/New_York"))
    turn = await bot.turn(say("remind me tomorrow at 9am to x"))
    assert "(America/New_York)" in texts(turn)


async def test_without_any_zone_utc_is_used_with_a_hint(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="remind me in 1 hour to stretch"))
    assert "(UTC)" in texts(turn) and "timezone Europe/Paris" in texts(turn)


async def test_quiet_hours_are_set_shown_and_turned_off(bot: Bot) -> None:
    assert "Quiet hours 20:00-08:00" in texts(await bot.turn(say("quiet 20:00-08:00")))
    assert "Quiet hours: 20:00-08:00" in texts(await bot.turn(say("quiet")))
    assert "Quiet hours off" in texts(await bot.turn(say("quiet off")))
    assert "Quiet hours: off" in texts(await bot.turn(say("quiet")))


def message_action(name: str, value: dict[str, Any]) -> dict[str, Any]:
    return activity("invoke", name=f"composeExtension/{name}", value=value, localTimezone="Europe/Paris")


async def test_remind_me_about_this_prefills_the_form_with_the_message(bot: Bot) -> None:
    value = {
        "commandId": "remindAboutMessage",
        "commandContext": "message",
        "messagePayload": {
            "body": {"contentType": "html", "content": "<p>Review the <b>Q3 deck</b> &amp; reply</p>"},
            "linkToMessage": "https://teams.microsoft.com/l/message/19:x/1",
        },
    }
    turn = await bot.turn(message_action("fetchTask", value))
    response = turn.state.invoke_response
    assert response is not None and response.body is not None
    card = response.body["task"]["value"]["card"]["content"]
    assert inputs(card)["text"]["value"] == "Review the Q3 deck & reply"
    assert inputs(card)["time"]["value"] == "12:00"  # on the hour, an hour after 11:00 in Paris


async def test_the_remind_me_about_this_dialog_submits_with_action_submit(bot: Bot) -> None:
    # Teams dialogs don't support Action.Execute: the form's button must be an Action.Submit.
    value = {"commandId": "remindAboutMessage", "commandContext": "message", "messagePayload": {}}
    turn = await bot.turn(message_action("fetchTask", value))
    assert turn.state.invoke_response is not None and turn.state.invoke_response.body is not None
    (button,) = actions(turn.state.invoke_response.body["task"]["value"]["card"]["content"])
    assert button["type"] == "Action.Submit" and button["title"] == "Set reminder"


async def test_submitting_remind_me_about_this_sets_it_with_the_link(bot: Bot) -> None:
    link = "https://teams.microsoft.com/l/message/19:x/1"
    data = {"text": "Review the Q3 deck", "date": "2027-06-02", "time": "10:00", "repeat": "none", "target": "me"}
    done = await bot.turn(
        message_action("submitAction", {"commandId": "remindAboutMessage", "data": {**data, "link": link}})
    )
    # Without a 1:1 chat with Courier to confirm in, the dialog itself says what was set.
    assert done.state.invoke_response is not None and done.state.invoke_response.body is not None
    said = done.state.invoke_response.body["task"]
    assert said["type"] == "message"
    assert "I'll remind you about “Review the Q3 deck” Wed Jun 02, 10:00 (Europe/Paris)" in said["value"]
    (reminder,) = await mine(bot)
    assert reminder.source_link == link


async def test_submitting_remind_me_about_this_with_a_problem_shows_the_form_again(bot: Bot) -> None:
    data = {"text": "", "date": "2027-06-02", "time": "10:00", "repeat": "none", "target": "me"}
    turn = await bot.turn(message_action("submitAction", {"commandId": "remindAboutMessage", "data": data}))
    response = turn.state.invoke_response
    assert response is not None and response.body is not None
    card = response.body["task"]["value"]["card"]["content"]
    assert "Say what to be reminded of." in card_texts(card)
    assert await upcoming(bot) == 0


async def test_uninstalling_suspends_my_reminders_and_reinstalling_restores_them(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    await bot.turn(activity("installationUpdate", action="remove"))
    assert await upcoming(bot) == 0
    await bot.turn(activity("installationUpdate", action="add"))
    assert await upcoming(bot) == 1


async def test_removing_courier_from_a_chat_turns_its_reminders_off(bot: Bot) -> None:
    await bot.turn(say("remind here in 2 hours to post", conversation_type="groupChat", mention_bot=True))
    await bot.turn(activity("installationUpdate", action="remove", conversation_type="groupChat"))
    assert await store(bot).upcoming_for_conversation("19:group@thread.v2") == []


def test_bot_id_is_the_recipient() -> None:
    assert activity("message")["recipient"]["id"] == BOT_ID


async def test_edit_opens_the_form_prefilled_and_saving_replaces_the_reminder(bot: Bot) -> None:
    await bot.turn(say("remind me tomorrow at 9am to call Ana"))
    (reminder,) = await mine(bot)
    card = answer(await bot.turn(invoke("reminder.edit", {"reminder": reminder.id})))
    assert inputs(card)["text"]["value"] == "call Ana" and inputs(card)["time"]["value"] == "09:00"
    submit = next(a for a in actions(card) if a["verb"] == "reminder.create")["data"]
    changes = {"text": "call Ana and Ben", "date": "2027-06-01", "time": "10:30", "repeat": "none"}
    saved = await bot.turn(invoke("reminder.create", {**submit, **changes}))
    assert "Reminder set" in answered(saved)
    (edited,) = await mine(bot)
    assert edited.text == "call Ana and Ben" and edited.id != reminder.id


async def test_the_edit_form_shows_my_current_zone_and_reads_the_time_in_it(bot: Bot) -> None:
    await bot.turn(activity("message", text="remind me tomorrow at 9am to call Ana"))  # no zone yet: UTC
    await bot.turn(say("timezone Europe/Paris"))
    (reminder,) = await mine(bot)
    card = answer(await bot.turn(invoke("reminder.edit", {"reminder": reminder.id})))
    assert "Times in Europe/Paris" in card_texts(card)
    assert inputs(card)["time"]["value"] == "10:00"  # 09:00 UTC, shown in Paris
    submit = next(a for a in actions(card) if a["verb"] == "reminder.create")["data"]
    values = {name: str(field.get("value", "")) for name, field in inputs(card).items()}
    await bot.turn(invoke("reminder.create", {**submit, **values}))  # saved unchanged
    (edited,) = await mine(bot)
    assert edited.due_at == reminder.due_at and edited.id != reminder.id


async def test_a_reminder_set_for_someone_else_is_not_edited_but_set_again(bot: Bot) -> None:
    await bot.turn(mention_ben(say("remind Ben Ito on Friday to send the contract")))
    (reminder,) = await mine(bot)
    turn = await bot.turn(invoke("reminder.edit", {"reminder": reminder.id}))
    assert "Can't edit that here" in answered(turn)


async def test_someone_else_cannot_delete_my_reminder(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    (reminder,) = await mine(bot)
    other = invoke("reminder.delete", {"reminder": reminder.id})
    other["from"] = {"id": "29:eve", "name": "Eve", "aadObjectId": "eeeeeeee-0000-4000-8000-000000000000"}
    assert "Can't delete that" in answered(await bot.turn(other))
    assert await upcoming(bot) == 1


async def test_done_on_a_one_off_reminder_ends_it(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    (reminder,) = await mine(bot)
    turn = await bot.turn(invoke("reminder.done", {"reminder": reminder.id}))
    assert "✓ Done." in answered(turn)
    stored = await store(bot).get(reminder.id)
    assert stored is not None and stored.status == "done"


async def test_done_on_a_repeating_reminder_says_when_it_comes_next(bot: Bot) -> None:
    await bot.turn(say("remind me every day at 9:00 to stretch"))
    (reminder,) = await mine(bot)
    turn = await bot.turn(invoke("reminder.done", {"reminder": reminder.id}))
    assert "✓ Done. Next time: Wed Mar 11, 09:00 (Europe/Paris)." in answered(turn)
    assert await upcoming(bot) == 1


async def test_snooze_moves_a_one_off_reminder_by_the_minutes_asked(bot: Bot, clock: FakeClock) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    (reminder,) = await mine(bot)
    turn = await bot.turn(invoke("reminder.snooze", {"reminder": reminder.id, "minutes": 60}))
    assert "Snoozed until today 12:00 (Europe/Paris)." in answered(turn)
    stored = await store(bot).get(reminder.id)
    assert stored is not None and stored.due_at == clock() + timedelta(minutes=60)


async def test_snooze_without_a_sensible_length_is_fifteen_minutes(bot: Bot, clock: FakeClock) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    (reminder,) = await mine(bot)
    await bot.turn(invoke("reminder.snooze", {"reminder": reminder.id, "minutes": 100_000}))
    stored = await store(bot).get(reminder.id)
    assert stored is not None and stored.due_at == clock() + timedelta(minutes=15)


async def test_snoozing_a_repeating_reminder_brings_this_one_back_and_keeps_the_series(bot: Bot) -> None:
    await bot.turn(say("remind me every day at 9:00 to stretch"))
    (series,) = await mine(bot)
    await bot.turn(invoke("reminder.snooze", {"reminder": series.id, "minutes": 15}))
    once, kept = sorted(await mine(bot), key=lambda r: r.due_at)
    assert kept.id == series.id and kept.due_at == series.due_at
    assert once.rule is None and once.text == "stretch"


async def test_tomorrow_moves_the_reminder_to_nine_the_next_morning_in_its_zone(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    (reminder,) = await mine(bot)
    turn = await bot.turn(invoke("reminder.tomorrow", {"reminder": reminder.id}))
    assert "Snoozed until Wed Mar 11, 09:00 (Europe/Paris)." in answered(turn)
    stored = await store(bot).get(reminder.id)
    assert stored is not None and stored.due_at == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)  # 09:00 in Paris


async def test_the_buttons_of_a_deleted_reminder_say_it_is_gone(bot: Bot) -> None:
    turn = await bot.turn(invoke("reminder.snooze", {"reminder": "nope", "minutes": 15}))
    assert "This reminder is gone" in answered(turn)


async def test_someone_with_200_upcoming_reminders_is_asked_to_delete_some_first(bot: Bot) -> None:
    for n in range(200):
        await bot.turn(
            say(f"remind here in {n + 2} hours to post update {n}", conversation_type="groupChat", mention_bot=True)
        )
    turn = await bot.turn(say("remind me tomorrow at 9am to one more thing"))
    assert "200 reminders coming up already" in texts(turn)
    assert await upcoming(bot) == 200  # chat reminders count against the person who set them


async def test_invalid_quiet_hours_are_refused_with_the_format_and_nothing_changes(bot: Bot) -> None:
    await bot.turn(say("quiet 20:00-08:00"))
    turn = await bot.turn(say("quiet 25:00-07:00"))
    assert "Those aren't quiet hours" in texts(turn) and "HH:MM-HH:MM" in texts(turn)
    assert "Quiet hours: 20:00-08:00" in texts(await bot.turn(say("quiet")))
