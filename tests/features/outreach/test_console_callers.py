"""The notifications API for people (the console): senders by single sign-on or session, non-senders refused with
403 everywhere, each sender sees their own notifications and admins all, and the paged list of notifications."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.console import ADMIN, API_KEY, GROUPIE, READER, SENDER, ConsoleBot

ANA = "aaaaaaaa-1111-2222-3333-444444444444"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Office closed Friday"}]}


def _body(key: str = "k1", title: str = "Office closed Friday") -> dict[str, Any]:
    card = {**CARD, "body": [{"type": "TextBlock", "text": title}]}
    return {"idempotencyKey": key, "recipients": [{"userId": ANA}], "card": card}


async def _send(bot: ConsoleBot, token: str, key: str = "k1", title: str = "Office closed Friday") -> str:
    status, body = await bot.call("POST", "/api/notifications", token=token, json=_body(key, title))
    assert status == 202, body
    return str(body["id"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/notifications"),
        ("POST", "/api/notifications"),
        ("GET", "/api/notifications/some-id"),
        ("GET", "/api/notifications/some-id/recipients"),
        ("DELETE", "/api/notifications/some-id"),
        ("POST", "/api/notifications/some-id/nudge"),
        ("GET", "/api/conversations"),
    ],
)
async def test_a_person_who_is_not_a_sender_gets_403_from_every_sender_api(
    console_bot: ConsoleBot, method: str, path: str
) -> None:
    status, body = await console_bot.call(method, path, token=console_bot.sso(READER), json=_body())
    assert status == 403 and "senders" in body["error"]["message"]
    assert console_bot.connector.activities() == []


async def test_a_sender_sends_with_a_single_sign_on_token(console_bot: ConsoleBot) -> None:
    await _send(console_bot, console_bot.sso(SENDER))
    arrived = await console_bot.connector.wait_for_async(lambda r: len(r) >= 1)
    assert arrived[0].activity["attachments"][0]["content"]["body"][0]["text"] == "Office closed Friday"


async def test_a_member_of_the_senders_group_may_send(console_bot: ConsoleBot) -> None:
    await _send(console_bot, console_bot.sso(GROUPIE))


async def test_a_sender_sees_their_own_notifications_only(console_bot: ConsoleBot) -> None:
    mine = await _send(console_bot, console_bot.sso(SENDER), title="Mine")
    theirs = await _send(console_bot, console_bot.sso(GROUPIE), title="Theirs")
    status, body = await console_bot.call("GET", "/api/notifications", token=console_bot.sso(SENDER))
    assert status == 200 and [n["id"] for n in body["notifications"]] == [mine]
    status, _ = await console_bot.call("GET", f"/api/notifications/{theirs}", token=console_bot.sso(SENDER))
    assert status == 404
    status, _ = await console_bot.call("DELETE", f"/api/notifications/{theirs}", token=console_bot.sso(SENDER))
    assert status == 404


async def test_an_admin_sees_every_notification(console_bot: ConsoleBot) -> None:
    first = await _send(console_bot, console_bot.sso(SENDER), "a")
    second = await _send(console_bot, API_KEY, "b")
    status, body = await console_bot.call("GET", "/api/notifications", token=console_bot.sso(ADMIN))
    assert status == 200 and {n["id"] for n in body["notifications"]} == {first, second}
    assert all(n["mine"] is False for n in body["notifications"])
    status, _ = await console_bot.call("GET", f"/api/notifications/{first}", token=console_bot.sso(ADMIN))
    assert status == 200


async def test_api_key_callers_keep_their_rights_and_see_what_they_sent(console_bot: ConsoleBot) -> None:
    await _send(console_bot, console_bot.sso(SENDER), "a")
    sent = await _send(console_bot, API_KEY, "b")
    status, body = await console_bot.call("GET", "/api/notifications", token=API_KEY)
    assert status == 200 and [n["id"] for n in body["notifications"]] == [sent]


async def test_the_list_says_title_state_and_counts(console_bot: ConsoleBot) -> None:
    sent = await _send(console_bot, console_bot.sso(SENDER), title="Quarterly update")
    status, body = await console_bot.call("GET", "/api/notifications", token=console_bot.sso(SENDER))
    assert status == 200
    (item,) = body["notifications"]
    assert (item["id"], item["title"], item["mine"], item["ackRequired"]) == (sent, "Quarterly update", True, False)
    assert item["counts"]["total"] == 1 and item["status"] and item["createdAt"]


async def test_the_list_is_paged_newest_first_with_a_cursor(console_bot: ConsoleBot) -> None:
    token = console_bot.sso(SENDER)
    ids = [await _send(console_bot, token, f"k{n}", f"n{n}") for n in range(3)]
    status, first = await console_bot.call("GET", "/api/notifications?limit=2", token=token)
    assert status == 200 and [n["id"] for n in first["notifications"]] == [ids[2], ids[1]]
    status, rest = await console_bot.call("GET", first["next"], token=token)
    assert [n["id"] for n in rest["notifications"]] == [ids[0]] and "next" not in rest


@pytest.mark.parametrize("query", ["cursor=yesterday", "cursor=2026-01-01T00:00:00~", "limit=many"])
async def test_a_bad_cursor_or_limit_is_refused_naming_it(console_bot: ConsoleBot, query: str) -> None:
    status, body = await console_bot.call("GET", f"/api/notifications?{query}", token=console_bot.sso(SENDER))
    assert status == 400 and body["error"]["field"] == query.split("=", maxsplit=1)[0]


async def test_a_session_sender_needs_the_csrf_header_to_send(console_bot: ConsoleBot) -> None:
    browser, csrf = await console_bot.signed_in(SENDER)
    async with browser.post(f"{console_bot.url}/api/notifications", json=_body()) as response:
        assert response.status == 403
    headers = {"X-CSRF-Token": csrf}
    async with browser.post(f"{console_bot.url}/api/notifications", json=_body(), headers=headers) as response:
        assert response.status == 202


async def test_without_credentials_the_list_is_401(console_bot: ConsoleBot) -> None:
    status, body = await console_bot.call("GET", "/api/notifications")
    assert status == 401 and "Bearer" in body["error"]["message"]
