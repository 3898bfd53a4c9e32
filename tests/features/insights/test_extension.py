"""The messaging extension: channel search inserts the insights card; unknown commands."""

from __future__ import annotations

from tests.support.bot import Bot
from tests.support.cards import card_texts
from tests.support.turns import BOT_ID, activity


def _query(text: str) -> dict[str, object]:
    return activity(
        "invoke",
        name="composeExtension/query",
        value={"commandId": "channelInsights", "parameters": [{"name": "query", "value": text}]},
    )


async def _install_team(bot: Bot) -> None:
    await bot.turn(activity("conversationUpdate", conversation_type="channel", membersAdded=[{"id": BOT_ID}]))


async def test_channel_search_finds_installed_channels_by_name(bot: Bot) -> None:
    await _install_team(bot)
    turn = await bot.turn(_query("gen"))
    response = turn.state.invoke_response
    assert response is not None and response.status == 200 and response.body is not None
    result = response.body["composeExtension"]
    assert result["type"] == "result"
    assert [a["preview"]["content"]["title"] for a in result["attachments"]] == ["General"]
    inserted = card_texts(result["attachments"][0]["content"])
    assert "General · last 7 days" in inserted and "median first reply" in inserted


async def test_channel_search_with_no_match_says_so(bot: Bot) -> None:
    await _install_team(bot)
    turn = await bot.turn(_query("marketing"))
    response = turn.state.invoke_response
    assert response is not None and response.body is not None
    assert "marketing" in response.body["composeExtension"]["text"]


async def test_an_unknown_extension_command_is_acknowledged_never_a_5xx(bot: Bot) -> None:
    turn = await bot.turn(activity("invoke", name="composeExtension/query", value={"commandId": "nope"}))
    assert turn.state.invoke_response is not None and turn.state.invoke_response.status == 200
