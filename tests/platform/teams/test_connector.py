"""Courier's Bot Connector client against the connector emulator: sends, and every failure classified."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.settings import Settings
from bot.platform.teams.connector import BotConnector, ConnectorFailure, FailureKind
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-0000000c0c0c"
CARD = {
    "type": "message",
    "attachments": [
        {
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.5", "body": []},
        }
    ],
}


@pytest.fixture
async def client(entra: EntraEmulator, test_ca: TestCA) -> AsyncIterator[BotConnector]:
    entra.register_app(APP_ID, tenant=TENANT, secret="s")
    credential = MsalAppCredential(
        Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    )
    made = BotConnector(credential, ssl_context=test_ca.client_ssl_context())
    yield made
    await made.close()


async def test_a_send_arrives_with_a_token_and_returns_its_id(
    client: BotConnector, connector: ConnectorEmulator
) -> None:
    sent_id = await client.send(connector.url, "a:1", CARD)
    assert sent_id
    assert connector.activities("a:1") == [CARD]
    assert connector.unauthorized == 0


async def test_a_personal_conversation_is_created(client: BotConnector, connector: ConnectorEmulator) -> None:
    conversation = await client.create_personal_conversation(
        connector.url, tenant_id=TENANT, user_id="29:user", bot_id="28:bot"
    )
    assert conversation.startswith("a:")
    assert connector.created[conversation]["tenantId"] == TENANT


@pytest.mark.parametrize(
    ("status", "body", "kind", "reason"),
    [
        (429, None, FailureKind.RETRY, "throttled"),
        (412, None, FailureKind.RETRY, "transient"),
        (502, None, FailureKind.RETRY, "transient"),
        (504, None, FailureKind.RETRY, "transient"),
        (500, None, FailureKind.MAYBE_DELIVERED, "server"),
        (503, None, FailureKind.MAYBE_DELIVERED, "server"),
        (
            403,
            {"error": {"code": "ConversationBlockedByUser", "message": "User blocked the conversation with the bot."}},
            FailureKind.PERMANENT,
            "blocked",
        ),
        (
            403,
            {"error": {"code": "MessageWritesBlocked", "message": "Message writes blocked"}},
            FailureKind.PERMANENT,
            "blocked",
        ),
        (
            403,
            {"error": {"code": "BotDisabledByAdmin", "message": "The bot is disabled by the tenant admin."}},
            FailureKind.PERMANENT,
            "tenant_disabled",
        ),
        (
            404,
            {"error": {"code": "ConversationNotFound", "message": "Conversation not found."}},
            FailureKind.PERMANENT,
            "uninstalled",
        ),
    ],
)
async def test_failures_are_classified(
    client: BotConnector,
    connector: ConnectorEmulator,
    status: int,
    body: dict[str, object] | None,
    kind: FailureKind,
    reason: str,
) -> None:
    connector.inject(status, body=body, retry_after=2 if status == 429 else None)
    with pytest.raises(ConnectorFailure) as caught:
        await client.send(connector.url, "a:1", CARD)
    assert (caught.value.kind, caught.value.reason) == (kind, reason)
    if status == 429:
        assert caught.value.retry_after == 2


async def test_an_unreachable_connector_is_not_sent(client: BotConnector) -> None:
    with pytest.raises(ConnectorFailure) as caught:
        await client.send("https://127.0.0.1:9/", "a:1", CARD)
    assert caught.value.kind is FailureKind.NOT_SENT
