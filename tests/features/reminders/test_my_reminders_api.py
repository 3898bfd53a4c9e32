"""``/api/me/reminders`` over real HTTP: a person lists, deletes and snoozes their own reminders, nobody else's."""

from __future__ import annotations

from tests.support.console import API_KEY, READER, SENDER, ConsoleBot, a_reminder


async def test_a_person_lists_their_reminders(console_bot: ConsoleBot) -> None:
    mine = await a_reminder(console_bot, READER.oid)
    await a_reminder(console_bot, SENDER.oid, "someone else's")
    status, body = await console_bot.call("GET", "/api/me/reminders", token=console_bot.sso(READER))
    assert status == 200
    assert [(r["id"], r["text"], r["zone"], r["repeats"]) for r in body["reminders"]] == [
        (mine.id, "send the report", "Europe/Paris", False)
    ]


async def test_a_person_deletes_theira_reminder(console_bot: ConsoleBot) -> None:
    mine = await a_reminder(console_bot, READER.oid)
    token = console_bot.sso(READER)
    status, _ = await console_bot.call("DELETE", f"/api/me/reminders/{mine.id}", token=token)
    assert status == 200
    _, body = await console_bot.call("GET", "/api/me/reminders", token=token)
    assert body["reminders"] == []


async def test_nobody_deletes_or_snoozes_someone_elsesa_reminder(console_bot: ConsoleBot) -> None:
    theirs = await a_reminder(console_bot, SENDER.oid)
    token = console_bot.sso(READER)
    status, _ = await console_bot.call("DELETE", f"/api/me/reminders/{theirs.id}", token=token)
    assert status == 404
    status, _ = await console_bot.call(
        "POST", f"/api/me/reminders/{theirs.id}/snooze", token=token, json={"minutes": 5}
    )
    assert status == 404
    _, body = await console_bot.call("GET", "/api/me/reminders", token=console_bot.sso(SENDER))
    assert [r["dueAt"] for r in body["reminders"]] == [theirs.due_at.isoformat()]


async def test_a_snooze_moves_the_reminder_later(console_bot: ConsoleBot) -> None:
    mine = await a_reminder(console_bot, READER.oid)
    token = console_bot.sso(READER)
    status, body = await console_bot.call(
        "POST", f"/api/me/reminders/{mine.id}/snooze", token=token, json={"minutes": 60}
    )
    assert status == 200 and body["message"].startswith("Snoozed until")
    _, listed = await console_bot.call("GET", "/api/me/reminders", token=token)
    assert listed["reminders"][0]["dueAt"] == body["until"]


async def test_a_snooze_needs_a_sensible_number_of_minutes(console_bot: ConsoleBot) -> None:
    mine = await a_reminder(console_bot, READER.oid)
    path = f"/api/me/reminders/{mine.id}/snooze"
    for minutes in (0, 5000, "ten", True):
        status, body = await console_bot.call("POST", path, token=console_bot.sso(READER), json={"minutes": minutes})
        assert status == 400 and body["error"]["field"] == "minutes"


async def test_reminders_need_a_person(console_bot: ConsoleBot) -> None:
    status, _ = await console_bot.call("GET", "/api/me/reminders")
    assert status == 401
    status, _ = await console_bot.call("GET", "/api/me/reminders", token=API_KEY)
    assert status == 403
