"""Courier as a Teams user meets it, through the Microsoft 365 Agents Playground (a real client, a real bot
process). Each test works in its own conversation or channel thread, so they share one bot and one Playground."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.e2e.playground import (
    ADAPTIVE_CARD,
    E2E_API_KEY,
    PlaygroundHarness,
    card_of,
    dialog_submission,
    reply,
    visible_text,
)
from tests.support.cards import card_texts

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_installing_in_a_personal_chat_sends_the_welcome_card(playground: PlaygroundHarness) -> None:
    await playground.install(playground.personal_chat)

    welcome = await playground.next_message(reply(playground.personal_chat, containing="I'm Courier"))

    assert "See all commands" in card_texts(card_of(welcome))


async def test_help_in_a_personal_chat_lists_the_commands(playground: PlaygroundHarness) -> None:
    await playground.send(playground.personal_chat, "help")

    answer = await playground.next_message(reply(playground.personal_chat, containing="What I can do"))

    texts = card_texts(card_of(answer))
    assert "help" in texts
    assert "Show what I can do, with an example of each command" in texts


async def test_help_with_a_mention_in_a_channel_answers_in_that_thread(playground: PlaygroundHarness) -> None:
    post = await playground.send(playground.channel("General"), "help", mention_bot=True)

    answer = await playground.next_message(reply(post.conversation_id, containing="What I can do"))

    assert post.conversation_id == f"{playground.channel('General')};messageid={post.message_id}"
    assert "Mention me before each command, e.g. @Courier help" in card_texts(card_of(answer))


async def test_an_unknown_command_suggests_the_closest_one(playground: PlaygroundHarness) -> None:
    await playground.send(playground.personal_chat, "halp")

    answer = await playground.next_message(reply(playground.personal_chat, containing="I didn't understand that"))

    texts = card_texts(card_of(answer))
    assert "Did you mean **help**?" in texts
    assert "Run help" in texts


async def test_see_all_commands_on_the_welcome_card_replaces_it_with_the_help_card(
    playground: PlaygroundHarness,
) -> None:
    await playground.install(playground.group_chat)
    await playground.next_message(reply(playground.group_chat, containing="I'm Courier"))

    # The Playground answers 200 only when the bot answered the invoke with a 2xx and a body (else 502): this is
    # the path botbuilder's invoke double serialization breaks.
    result = await playground.invoke_card_action(playground.group_chat, "help")

    assert result.status == 200, result.body
    assert result.body["type"] == ADAPTIVE_CARD
    assert "What I can do" in card_texts(result.body["value"])


async def test_an_action_submit_updates_the_card_it_came_from(playground: PlaygroundHarness) -> None:
    await playground.send(playground.personal_chat, "halp")
    unknown = await playground.next_message(reply(playground.personal_chat, containing="I didn't understand that"))

    await playground.submit(playground.personal_chat, unknown["message"]["messageId"], {"verb": "help"})

    updated = await playground.next_message(
        reply(playground.personal_chat, containing="What I can do", action="updateMessage")
    )
    assert updated["message"]["messageId"] == unknown["message"]["messageId"]


async def test_the_channel_insights_search_finds_installed_channels_by_name(playground: PlaygroundHarness) -> None:
    await playground.install(playground.team_id)
    await playground.next_message(reply(playground.channel("General"), containing="I'm Courier"))

    result = await playground.extension_query("channelInsights", "gen", conversation=playground.channel("General"))

    assert result.status == 200, result.body
    answer = result.body["composeExtension"]
    assert answer["type"] == "result"
    assert [item["preview"]["content"]["title"] for item in answer["attachments"]] == ["General"]


async def test_an_acknowledgement_round_trip_replaces_the_card_and_is_counted(playground: PlaygroundHarness) -> None:
    await playground.install(playground.personal_chat)
    headers = {"Authorization": f"Bearer {E2E_API_KEY}"}
    notification = {
        "idempotencyKey": "e2e-ack",
        "recipients": [{"conversationId": playground.personal_chat}],
        "template": "announcement",
        "data": {"title": "Security training due", "text": "Finish the module by Friday."},
        "ackRequired": True,
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{playground.bot.url}/api/notifications", json=notification, headers=headers) as r:
            assert r.status == 202, await r.text()
            created = await r.json()
        await playground.next_message(reply(playground.personal_chat, containing="Security training due"))

        result = await playground.invoke_card_action(playground.personal_chat, "ack")

        assert result.status == 200, result.body
        assert result.body["type"] == ADAPTIVE_CARD
        assert "Acknowledged at" in " ".join(card_texts(result.body["value"]))
        async with session.get(f"{playground.bot.url}/api/notifications/{created['id']}", headers=headers) as r:
            assert (await r.json())["totals"]["acknowledged"] == 1


async def test_a_reminder_fires_and_snooze_and_done_answer_in_place(playground: PlaygroundHarness) -> None:
    await playground.install(playground.personal_chat)
    await playground.send(playground.personal_chat, "remind me in 2 seconds to stretch")
    await playground.next_message(reply(playground.personal_chat, containing="Reminder set"))
    await playground.next_message(reply(playground.personal_chat, containing="stretch"), timeout=15)

    snoozed = await playground.invoke_card_action(playground.personal_chat, "reminder.snooze")

    assert snoozed.status == 200, snoozed.body
    assert "Snoozed until" in " ".join(card_texts(snoozed.body["value"]))

    await playground.send(playground.personal_chat, "remind me in 2 seconds to drink water")
    await playground.next_message(reply(playground.personal_chat, containing="drink water"), timeout=15)

    done = await playground.invoke_card_action(playground.personal_chat, "reminder.done")

    assert done.status == 200, done.body
    assert "Done." in " ".join(card_texts(done.body["value"]))


async def test_insights_count_a_thread_reply_as_a_reply_and_not_the_commands(playground: PlaygroundHarness) -> None:
    await playground.install(playground.team_id)
    channel = playground.channel("Announcements")
    # Without resource-specific consent (as in the Playground) Teams delivers only the posts that mention Courier.
    # A mention that is not a command is talk in the channel: counted (thanks get a short answer, awaited here).
    post = await playground.send(channel, "thanks for the release notes!", mention_bot=True)
    await playground.next_message(reply(post.conversation_id, containing="You're welcome!"))
    await playground.send(post.conversation_id, "thanks, found them", mention_bot=True)  # a reply in its thread
    await playground.next_message(reply(post.conversation_id, containing="You're welcome!"))
    post = await playground.send(channel, "insights", mention_bot=True)

    answer = await playground.next_message(reply(post.conversation_id, containing="last 7 days"))

    texts = " ".join(card_texts(card_of(answer)))
    assert "2 messages" in texts  # the post and its reply; the insights command is not one
    assert "1 (1 reply)" in texts, texts  # one thread, with one reply
    assert "Messages by day (UTC)" in texts


async def test_a_mention_in_a_channel_that_is_not_a_command_gets_no_answer(playground: PlaygroundHarness) -> None:
    await playground.install(playground.team_id)
    said = await playground.send(playground.channel("General"), "lunch at noon, everyone?", mention_bot=True)
    asked = await playground.send(said.conversation_id, "help", mention_bot=True)

    answer = await playground.next_message(reply(asked.conversation_id))

    assert "What I can do" in visible_text(answer)  # the first reply in that thread answers help, not the chatter


async def test_hi_and_thanks_get_a_friendly_answer(playground: PlaygroundHarness) -> None:
    await playground.send(playground.personal_chat, "hi")
    hello = await playground.next_message(reply(playground.personal_chat, containing="Hi"))
    await playground.send(playground.personal_chat, "thanks!")
    welcome = await playground.next_message(reply(playground.personal_chat, containing="welcome"))

    assert visible_text(hello) == "Hi Alex! Type help to see what I can do."
    assert visible_text(welcome) == "You're welcome!"


async def test_a_card_shared_without_words_gets_a_short_answer(playground: PlaygroundHarness) -> None:
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Q3 deck review"}]}
    body = {
        "from": {"id": playground.user_id},
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": card}],
        "attachmentLayout": "list",
    }
    status, answer = await playground.post_message(playground.personal_chat, body)
    assert status == 200, answer

    got = await playground.next_message(reply(playground.personal_chat, containing="Got it"))

    assert visible_text(got) == "Got it. Type help to see what I can do."


async def test_the_remind_me_about_this_dialog_submits_closes_and_confirms_in_the_chat(
    playground: PlaygroundHarness,
) -> None:
    await playground.install(playground.personal_chat)
    on_message = {
        "commandId": "remindAboutMessage",
        "commandContext": "message",
        "messagePayload": {
            "body": {"contentType": "html", "content": "<p>Review the <b>Q3 deck</b></p>"},
            "linkToMessage": "https://teams.microsoft.com/l/message/19:x/1",
        },
    }
    opened = await playground.extension_invoke("composeExtension/fetchTask", on_message)
    assert opened.status == 200, opened.body
    form = opened.body["task"]["value"]["card"]["content"]

    # The user presses Set reminder: Teams sends the dialog's Action.Submit as composeExtension/submitAction.
    data = dialog_submission(form)
    submitted = await playground.extension_invoke("composeExtension/submitAction", {**on_message, "data": data})

    assert submitted.status == 200, submitted.body
    assert not (submitted.body or {}).get("task")  # nothing to show: Teams closes the dialog
    confirmation = await playground.next_message(reply(playground.personal_chat, containing="Reminder set"))
    assert "Review the Q3 deck" in visible_text(confirmation)


async def test_the_bot_leaves_no_half_closed_connections_to_the_playground(playground: PlaygroundHarness) -> None:
    for text in ("help", "reminders", "quiet"):
        await playground.send(playground.personal_chat, text)
        await playground.next_message(reply(playground.personal_chat))
    # The Playground (Node) drops idle keep-alive connections after 5 s. Waiting out a foreign process's idle
    # timer: there is no event to await.
    await asyncio.sleep(6.5)
    assert playground.bot.half_closed_connections(playground.playground.port) == 0
