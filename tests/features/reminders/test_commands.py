"""Reminders in chat: set in words, checked when ambiguous, listed, deleted; zone and quiet hours; the form and the
message action. Driven through the real router and middleware, without HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.features.reminders.store import ReminderStore
from bot.platform.settings import Settings
from tests.support.bot import Bot, make_bot
from tests.support.cards import card_inputs as inputs
from tests.support.cards import card_texts
from tests.support.turns import BOT_ID, USER_AAD, RecordingTurn, activity


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    made = await make_bot(tmp_path, Settings(dangerously_allow_anonymous=True))
    yield made
    await made.store.close()


def say(text: str, **extra: Any) -> dict[str, Any]:
    return activity("message", text=text, localTimezone="Europe/Paris", **extra)


def texts(turn: RecordingTurn) -> str:
    return " ".join(" ".join(card_texts(s.message.card)) for s in turn.sent if s.message.card)


async def count(bot: Bot) -> int:
    return int(await bot.store.db.fetchval("SELECT COUNT(*) FROM reminders WHERE status = 'active'"))


async def test_a_reminder_in_words_is_stored_and_confirmed_in_my_zone(bot: Bot) -> None:
    turn = await bot.turn(say("remind me in 20 minutes to call Ana"))
    assert "I'll remind you today" in texts(turn) and "(Europe/Paris)" in texts(turn)
    (reminder,) = await ReminderStore(bot.store.db).upcoming_for_user("72f988bf-86f1-41af-91ab-2d7cd011db47", USER_AAD)
    assert reminder.text == "call Ana" and reminder.zone == "Europe/Paris" and reminder.target_user_id == USER_AAD


async def test_an_ambiguous_date_asks_to_confirm_and_stores_nothing_yet(bot: Bot) -> None:
    turn = await bot.turn(say("remind me on 3/12 at 14:30 to pay", locale="fr-FR"))
    card = turn.sent[0].message.card
    assert card is not None and "Check this reminder" in texts(turn)
    assert inputs(card)["date"]["value"].endswith("-12-03")
    assert await count(bot) == 0


async def test_confirming_the_checked_card_stores_it(bot: Bot) -> None:
    data = {
        "verb": "reminder.create",
        "text": "pay",
        "date": "2027-06-03",
        "time": "14:30",
        "repeat": "none",
        "target": "me",
    }
    turn = await bot.turn(
        activity(
            "invoke",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": "reminder.create", "data": data}},
            localTimezone="Europe/Paris",
        )
    )
    assert turn.state.invoke_response is not None
    assert "Reminder set" in str(turn.state.invoke_response.body)
    assert await count(bot) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("remind me yesterday at 9:00 to x", "Check this reminder"),
        ("remind me every 10 years to renew", "repeats too rarely"),
        ("remind me blah to x", "couldn't read"),
        ("remind me tomorrow to " + "x" * 2000, "2,000 characters"),
    ],
)
async def test_bad_input_is_answered_and_nothing_is_stored(bot: Bot, text: str, says: str) -> None:
    turn = await bot.turn(say(text))
    assert says in texts(turn)
    assert await count(bot) == 0


async def test_remind_alone_opens_the_form(bot: Bot) -> None:
    turn = await bot.turn(say("remind"))
    card = turn.sent[0].message.card
    assert card is not None
    assert {"text", "date", "time", "repeat"} <= set(inputs(card))


async def test_reminders_lists_them_and_delete_removes_the_nth(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    await bot.turn(say("remind me every weekday at 9:00 to post the standup"))
    listed = await bot.turn(say("reminders"))
    assert "call Ana" in texts(listed) and "post the standup" in texts(listed)
    await bot.turn(say("reminders delete 1"))
    assert await count(bot) == 1
    remaining = await bot.turn(say("reminders"))
    assert "call Ana" not in texts(remaining)


async def test_a_channel_reminder_targets_the_channel(bot: Bot) -> None:
    turn = await bot.turn(
        activity(
            "message",
            text="remind here every Monday at 10:00 to plan",
            conversation_type="channel",
            mention_bot=True,
            localTimezone="Europe/Paris",
        )
    )
    assert "I'll remind this conversation" in texts(turn)
    row = await bot.store.db.fetchrow("SELECT target_kind, conversation_id, rule FROM reminders")
    assert row is not None and row["target_kind"] == "conversation" and row["rule"] == "FREQ=WEEKLY;BYDAY=MO"


async def test_reminding_someone_else_needs_their_mention(bot: Bot) -> None:
    message = activity("message", text="remind Ben Ito on Friday to send the contract", localTimezone="Europe/Paris")
    message["entities"] = [
        {
            "type": "mention",
            "text": "<at>Ben Ito</at>",
            "mentioned": {"id": "29:ben", "name": "Ben Ito", "aadObjectId": "bbbbbbbb-0000-4000-8000-000000000000"},
        }
    ]
    turn = await bot.turn(message)
    assert "I'll remind Ben Ito" in texts(turn)
    row = await bot.store.db.fetchrow("SELECT target_user_id, creator_id FROM reminders")
    assert row is not None and row["target_user_id"] == "bbbbbbbb-0000-4000-8000-000000000000"


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


async def test_remind_me_about_this_prefills_the_form_with_the_message(bot: Bot) -> None:
    value = {
        "commandId": "remindAboutMessage",
        "commandContext": "message",
        "messagePayload": {
            "body": {"contentType": "html", "content": "<p>Review the <b>Q3 deck</b> &amp; reply</p>"},
            "linkToMessage": "https://teams.microsoft.com/l/message/19:x/1",
        },
    }
    turn = await bot.turn(
        activity("invoke", name="composeExtension/fetchTask", value=value, localTimezone="Europe/Paris")
    )
    response = turn.state.invoke_response
    assert response is not None and response.body is not None
    card = response.body["task"]["value"]["card"]["content"]
    assert inputs(card)["text"]["value"] == "Review the Q3 deck & reply"
    submit = {
        "commandId": "remindAboutMessage",
        "data": {
            **{"text": "Review the Q3 deck", "date": "2027-06-02", "time": "10:00", "repeat": "none"},
            "target": "me",
            "link": "https://teams.microsoft.com/l/message/19:x/1",
        },
    }
    done = await bot.turn(
        activity("invoke", name="composeExtension/submitAction", value=submit, localTimezone="Europe/Paris")
    )
    assert done.state.invoke_response is not None and done.state.invoke_response.body == {
        "task": {"type": "message", "value": "Reminder set."}
    }
    row = await bot.store.db.fetchrow("SELECT source_link FROM reminders")
    assert row is not None and row["source_link"] == "https://teams.microsoft.com/l/message/19:x/1"


async def test_uninstalling_suspends_my_reminders_and_reinstalling_restores_them(bot: Bot) -> None:
    await bot.turn(say("remind me in 20 minutes to call Ana"))
    await bot.turn(activity("installationUpdate", action="remove"))
    assert await count(bot) == 0
    await bot.turn(activity("installationUpdate", action="add"))
    assert await count(bot) == 1


def test_bot_id_is_the_recipient() -> None:
    assert activity("message")["recipient"]["id"] == BOT_ID


async def test_edit_opens_the_form_prefilled_and_saving_replaces_the_reminder(bot: Bot) -> None:
    await bot.turn(say("remind me tomorrow at 9am to call Ana"))
    (reminder,) = await ReminderStore(bot.store.db).upcoming_for_user("72f988bf-86f1-41af-91ab-2d7cd011db47", USER_AAD)

    def invoke(verb: str, data: dict[str, Any]) -> dict[str, Any]:
        action = {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}}
        return activity("invoke", name="adaptiveCard/action", value={"action": action}, localTimezone="Europe/Paris")

    opened = await bot.turn(invoke("reminder.edit", {"reminder": reminder.id}))
    assert opened.state.invoke_response is not None and opened.state.invoke_response.body is not None
    card = opened.state.invoke_response.body["value"]
    assert inputs(card)["text"]["value"] == "call Ana" and inputs(card)["time"]["value"] == "09:00"
    submit = next(a for a in card["actions"] if a["verb"] == "reminder.create")["data"]
    saved = await bot.turn(
        invoke(
            "reminder.create",
            {**submit, "text": "call Ana and Ben", "date": "2027-06-01", "time": "10:30", "repeat": "none"},
        )
    )
    assert "Reminder set" in str(saved.state.invoke_response)
    (edited,) = await ReminderStore(bot.store.db).upcoming_for_user("72f988bf-86f1-41af-91ab-2d7cd011db47", USER_AAD)
    assert edited.text == "call Ana and Ben" and edited.id != reminder.id


async def test_someone_with_200_upcoming_reminders_is_asked_to_delete_some_first(bot: Bot) -> None:
    for n in range(200):
        await bot.turn(
            say(f"remind here in {n + 2} hours to post update {n}", conversation_type="groupChat", mention_bot=True)
        )
    turn = await bot.turn(say("remind me tomorrow at 9am to one more thing"))
    assert "200 reminders coming up already" in texts(turn)
    assert await count(bot) == 200  # chat reminders count against the person who set them
