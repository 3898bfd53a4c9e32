"""Malformed requests get a clear 4xx; health answers; invokes answer with their body (botbuilder workaround)."""

from __future__ import annotations

from tests.support.live import LiveBot
from tests.support.turns import activity


async def test_healthz_reports_storage_and_version(live_bot: LiveBot) -> None:
    response = await live_bot.session.get(f"{live_bot.url}/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok" and body["storage"]["reachable"] is True
    assert body["version"]


async def test_a_body_that_is_not_json_is_a_bad_request(live_bot: LiveBot) -> None:
    response = await live_bot.session.post(
        f"{live_bot.url}/api/messages", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400


async def test_an_activity_without_a_conversation_is_a_bad_request_naming_it(live_bot: LiveBot) -> None:
    data = activity(text="ping", serviceUrl=live_bot.connector.url)
    data.pop("conversation")
    response = await live_bot.post(data, live_bot.token())
    assert response.status == 400
    assert "conversation.id" in (await response.json())["error"]["message"]


async def test_the_wrong_content_type_is_refused(live_bot: LiveBot) -> None:
    response = await live_bot.session.post(f"{live_bot.url}/api/messages", data=b"hello")
    assert response.status == 415


async def test_an_oversize_activity_is_refused(live_bot: LiveBot) -> None:
    data = activity(text="ping", serviceUrl=live_bot.connector.url, value={"blob": "x" * 300_000})
    response = await live_bot.post(data, live_bot.token())
    assert response.status == 413


async def test_an_invoke_answers_200_with_its_card_body(live_bot: LiveBot) -> None:
    data = activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "ping", "data": {"verb": "ping"}}, "trigger": "manual"},
        serviceUrl=live_bot.connector.url,
    )
    response = await live_bot.post(data, live_bot.token())
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard"


async def test_a_non_invoke_activity_answers_200_without_a_body(live_bot: LiveBot) -> None:
    response = await live_bot.post(activity("typing", serviceUrl=live_bot.connector.url), live_bot.token())
    assert response.status == 200
