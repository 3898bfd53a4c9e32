"""Courier's own async Bot Connector client for proactive sends at volume.

botbuilder's connector runs each call through msrest/requests in a thread pool, which caps fan-out far below what
Teams allows; proactive outreach uses this aiohttp client instead (replies inside a turn still go through the
TurnContext). It speaks the Bot Connector REST API v3, authenticates with Courier's app credential, and classifies
every failure so the caller knows whether to retry, stop, or record "maybe delivered".
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from bot.platform.telemetry import Telemetry

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({412, 429, 502, 504})


class FailureKind(StrEnum):
    RETRY = "retry"  # 412, 429, 502, 504: try again later (honour Retry-After)
    PERMANENT = "permanent"  # blocked, uninstalled, tenant disabled: stop for this recipient
    MAYBE_DELIVERED = "maybe_delivered"  # the request may have reached Teams: never resend automatically
    NOT_SENT = "not_sent"  # failed before anything left (no connection): safe to retry


class TokenSource(Protocol):
    async def get_token(self, scope: str, *, tenant_id: str | None = None) -> Any: ...


@dataclass
class SendFailure(Exception):
    """The one way a send, update or delete fails, wherever it failed: at the connector (an HTTP status), resolving
    the recipient (not installed, unknown conversation) or because the caller withdrew. ``kind`` says what to do
    next; ``reason`` is the short word recorded in the ledger and shown to people."""

    status: int
    code: str
    message: str
    kind: FailureKind
    retry_after: float | None = None
    reason: str = ""  # blocked | uninstalled | tenant_disabled | throttled | server | not_installed | ...

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message} ({self.kind.value})"


ConnectorFailure = SendFailure  # the name the engine's callers grew up with


def classify(status: int, code: str, message: str) -> tuple[FailureKind, str]:
    text = f"{code} {message}".lower()
    if status in RETRYABLE:
        return FailureKind.RETRY, "throttled" if status == 429 else "transient"
    if status == 403:
        if "block" in text:
            return FailureKind.PERMANENT, "blocked"
        if "disabled" in text or "tenant" in text:
            return FailureKind.PERMANENT, "tenant_disabled"
        if "not installed" in text:
            return FailureKind.PERMANENT, "not_installed"
        return FailureKind.PERMANENT, "forbidden"
    if status == 404:
        return FailureKind.PERMANENT, "uninstalled"
    if status in {400, 401, 413}:
        return FailureKind.PERMANENT, "rejected"
    # 500, 503 and anything else after the request left: Teams may have delivered it.
    return FailureKind.MAYBE_DELIVERED, "server"


IDLE_SECONDS = 4.0


class BotConnector:
    def __init__(
        self,
        credential: TokenSource | None,
        *,
        oauth_scope: str = "https://api.botframework.com",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        max_connections: int = 100,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or Telemetry.off()
        self._credential = credential
        self._scope = oauth_scope
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Idle connections close after 4 s, before servers that drop them at 5 s (Node's default, e.g. the Agents
            # Playground) would leave them half-closed (CLOSE-WAIT) here; busy ones are reused as before.
            connector = aiohttp.TCPConnector(
                limit=self._limit, ssl=self._ssl if self._ssl else True, keepalive_timeout=IDLE_SECONDS
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def ready(self) -> None:
        """Have the outbound token at hand (the credential caches it): called before a sender takes its place in the
        rate limiters, so the first request's token fetch never delays it past its departure slot, where Teams
        would count it bunched up with the requests paced after it."""
        await self._headers()

    async def _headers(self) -> dict[str, str]:
        if self._credential is None:  # anonymous local mode (the Playground's mock connector)
            return {}
        token = await self._credential.get_token(self._scope)
        return {"Authorization": f"Bearer {token.token}"}

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._write("POST", url, body)

    async def _write(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        operation = "create_conversation" if url.rstrip("/").endswith("/v3/conversations") else method.lower()
        with self._telemetry.span(f"connector {operation}", {"http.request.method": method}, client=True) as span:
            try:
                result = await self._write_once(method, url, body)
            except ConnectorFailure as failure:
                self._telemetry.connector_call(operation, failure.status)
                span.set("http.response.status_code", failure.status)
                span.fail(failure.reason or failure.code)
                raise
            self._telemetry.connector_call(operation, 200)
            return result

    async def _write_once(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        headers = await self._headers()
        try:
            response = await self._http().request(method, url, json=body, headers=headers)
        except aiohttp.ClientConnectorError as exc:
            # Nothing reached Teams: the connection itself failed.
            raise ConnectorFailure(0, "ConnectionFailed", str(exc), FailureKind.NOT_SENT, reason="connect") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may have left (reset or timeout mid-flight).
            raise ConnectorFailure(
                0, type(exc).__name__, str(exc) or "no answer", FailureKind.MAYBE_DELIVERED, reason="connection_lost"
            ) from exc
        async with response:
            if response.status < 300:
                data = await response.json(content_type=None) if response.content_length != 0 else {}
                return data if isinstance(data, dict) else {}
            code, message = await _error_of(response)
            kind, reason = classify(response.status, code, message)
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise ConnectorFailure(response.status, code, message, kind, retry_after, reason)

    async def _get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        headers = await self._headers()
        try:
            response = await self._http().get(url, params=params, headers=headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConnectorFailure(
                0, type(exc).__name__, str(exc) or "no answer", FailureKind.NOT_SENT, reason="connect"
            ) from exc
        async with response:
            if response.status < 300:
                data = await response.json(content_type=None)
                return data if isinstance(data, dict) else {}
            code, message = await _error_of(response)
            kind, reason = classify(response.status, code, message)
            if kind is FailureKind.MAYBE_DELIVERED:  # a read changes nothing: always safe to retry
                kind = FailureKind.RETRY
            raise ConnectorFailure(
                response.status, code, message, kind, _retry_after(response.headers.get("Retry-After")), reason
            )

    async def paged_members(
        self, service_url: str, conversation_id: str, *, continuation: str | None, page_size: int = 500
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a conversation's (or a team's) roster and the token of the next page (None at the end)."""
        params = {"pageSize": str(page_size)}
        if continuation:
            params["continuationToken"] = continuation
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/pagedmembers"
        body = await self._get(url, params)
        members = body.get("members")
        token = body.get("continuationToken")
        return (members if isinstance(members, list) else []), (str(token) if token else None)

    async def member(self, service_url: str, conversation_id: str, member_id: str) -> dict[str, Any]:
        """One member of a conversation, with Teams' extra fields (aadObjectId, email, userPrincipalName)."""
        url = (
            f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}"
            f"/members/{quote(member_id, safe='')}"
        )
        return await self._get(url, {})

    async def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> str | None:
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
        result = await self._post(url, activity)
        sent_id = result.get("id")
        return str(sent_id) if sent_id else None

    async def update(self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]) -> None:
        """Replace a message Courier sent earlier (``PUT .../activities/{id}`` with the whole new activity)."""
        await self._write("PUT", self._activity_url(service_url, conversation_id, activity_id), activity)

    async def delete(self, service_url: str, conversation_id: str, activity_id: str) -> None:
        """Delete a message Courier sent earlier (``DELETE .../activities/{id}``)."""
        await self._write("DELETE", self._activity_url(service_url, conversation_id, activity_id), None)

    @staticmethod
    def _activity_url(service_url: str, conversation_id: str, activity_id: str) -> str:
        return (
            f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}"
            f"/activities/{quote(activity_id, safe='')}"
        )

    async def create_personal_conversation(self, service_url: str, *, tenant_id: str, user_id: str, bot_id: str) -> str:
        """Create (or get) the 1:1 conversation with a user; Teams answers with its id."""
        body = {
            "bot": {"id": bot_id},
            "members": [{"id": user_id}],
            "isGroup": False,
            "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}},
        }
        result = await self._post(f"{service_url.rstrip('/')}/v3/conversations", body)
        conversation_id = result.get("id")
        if not conversation_id:
            raise ConnectorFailure(0, "NoConversation", "Teams returned no conversation id", FailureKind.RETRY)
        return str(conversation_id)


async def _error_of(response: aiohttp.ClientResponse) -> tuple[str, str]:
    try:
        body = await response.json(content_type=None)
    except ValueError:
        return str(response.status), (await response.text())[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or response.status), str(error.get("message") or "")
    return str(response.status), str(body)[:300]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
