"""Courier as a Teams user meets it, through the Microsoft 365 Agents Playground."""

from __future__ import annotations

import pytest

from tests.e2e.harness import PlaygroundClient, card_of, card_titled, texts

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


async def test_install_in_personal_chat_sends_the_welcome_card(playground: PlaygroundClient) -> None:
    await playground.install(playground.personal_chat)
    event = await playground.next_message(card_titled("I'm Courier", playground.personal_chat))
    assert "See all commands" in texts(card_of(event))


async def test_help_in_personal_chat_lists_the_commands(playground: PlaygroundClient) -> None:
    await playground.send(playground.personal_chat, "help")
    event = await playground.next_message(card_titled("What I can do", playground.personal_chat))
    assert "Show what I can do" in texts(card_of(event))


async def test_help_by_mention_in_a_channel_answers_in_the_channel(playground: PlaygroundClient) -> None:
    await playground.send(playground.general_channel, "help", mention_bot=True)
    event = await playground.next_message(card_titled("What I can do", playground.general_channel))
    assert "Mention me before each command" in texts(card_of(event))


async def test_an_unknown_command_suggests_help(playground: PlaygroundClient) -> None:
    await playground.send(playground.personal_chat, "halp")
    event = await playground.next_message(card_titled("I didn't understand that", playground.personal_chat))
    assert "Did you mean **help**?" in texts(card_of(event))


async def test_a_card_action_replaces_the_card_with_its_answer(playground: PlaygroundClient) -> None:
    await playground.send(playground.personal_chat, "halp")
    event = await playground.next_message(card_titled("I didn't understand that", playground.personal_chat))
    status, body = await playground.invoke(
        {
            "name": "adaptiveCard/action",
            "conversation": {"id": playground.personal_chat},
            "replyToId": event["message"]["messageId"],
            "value": {
                "action": {"type": "Action.Execute", "verb": "help", "data": {"verb": "help"}},
                "trigger": "manual",
            },
        }
    )
    assert status == 200, body
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "What I can do" in texts(body["value"])


async def test_a_messaging_extension_query_answers_with_results(playground: PlaygroundClient) -> None:
    await playground.install(playground.general_channel)
    await playground.next_message(card_titled("I'm Courier", playground.general_channel))
    status, body = await playground.invoke(
        {
            "name": "composeExtension/query",
            "conversation": {"id": playground.general_channel},
            "value": {"commandId": "channelInsights", "parameters": [{"name": "query", "value": "gen"}]},
        }
    )
    assert status == 200, body
    result = body["composeExtension"]
    assert result["type"] == "result"
    assert [a["preview"]["content"]["title"] for a in result["attachments"]] == ["General"]
