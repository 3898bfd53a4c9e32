"""The seam around botbuilder. Nothing else in Courier imports botbuilder or botframework.

What lives here:
- inbound: ``POST /api/messages`` -> body checks -> botbuilder's JWT validation (issuer, audience, signature,
  endorsement of the channel id, serviceUrl claim) against the configured metadata URL -> a :class:`Turn` for
  the dispatcher -> the invoke response, serialized once (botbuilder 4.17.1 serializes it twice and fails);
- outbound: botbuilder's connector client with Courier's own credential factory, so the Bot Connector token
  comes from Courier's app credential (secret, certificate or managed identity) through MSAL with
  ``instance_discovery=False`` and can be pointed at a local login emulator;
- proactive sends to a stored conversation reference.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import jwt
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConfiguration,
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)
from msrest.universal_http.requests import ClientRetryPolicy

from bot.platform.http import BodyRefused, read_json_body
from bot.platform.settings import Settings
from bot.platform.teams.activity import InboundActivity, parse_activity
from bot.platform.teams.admission import TurnAdmission
from bot.platform.teams.connector import FailureKind, SendFailure, classify
from bot.platform.teams.turn import Message, QuietTurn, Turn, TurnState

logger = logging.getLogger(__name__)

# msrest builds a retry policy for every connector client, and botbuilder makes one per inbound turn: each build
# tests 999 status codes against this 500-item list, about 12 ms of CPU, twice a turn, which capped inbound turns at
# about 40 a second. A frozenset answers the same membership questions at once.
ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]

MAX_BODY_BYTES = 256 * 1024


class TokenSource(Protocol):
    """The part of Courier's app credential the connector needs (see ``bot/platform/identity/credentials.py``)."""

    def get_token_sync(self, scope: str, *, tenant_id: str | None = None) -> str: ...


# ------------------------------------------------------------------------------------------------------
# Outbound credentials


class _CourierAppCredentials(AppCredentials):  # type: ignore[misc]
    """botbuilder asks this for the Bot Connector token; Courier's credential answers."""

    def __init__(self, app_id: str, tenant_id: str, scope: str, source: TokenSource) -> None:
        super().__init__(app_id=app_id, channel_auth_tenant=tenant_id, oauth_scope=scope)
        self._source = source
        self._tenant = tenant_id

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._source.get_token_sync(str(self.oauth_scope), tenant_id=self._tenant)


class _CourierCredentialFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    def __init__(self, settings: Settings, source: TokenSource | None) -> None:
        self._app_id = settings.app_id
        self._tenant = settings.app_tenant_id or "botframework.com"
        self._source = source
        self._skip_inbound = settings.dangerously_skip_inbound_auth

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(self._app_id) and app_id == self._app_id

    async def is_authentication_disabled(self) -> bool:
        # Only true in anonymous mode (COURIER_DANGEROUSLY_ALLOW_ANONYMOUS) or with
        # COURIER_DANGEROUSLY_SKIP_INBOUND_AUTH (an app id, against a local emulator that sends no tokens).
        return not self._app_id or self._skip_inbound

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        if not self._app_id or (self._skip_inbound and app_id != self._app_id):
            return _AnonymousCredentials()  # replies within an unauthenticated (emulator) turn
        if app_id != self._app_id or self._source is None:
            raise PermissionError("outbound credentials requested for an unknown app id")
        return _CourierAppCredentials(app_id, self._tenant, oauth_scope, self._source)


class _AnonymousCredentials(AppCredentials):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(app_id="", channel_auth_tenant=None, oauth_scope=None)

    def get_access_token(self, force_refresh: bool = False) -> str:
        return ""


def _build_authentication(settings: Settings, source: TokenSource | None) -> Any:
    """Parameterized botbuilder auth: every endpoint set, so nothing falls back to ``None``."""
    tenant = settings.app_tenant_id or "botframework.com"
    return BotFrameworkAuthenticationFactory.create(
        channel_service="",
        validate_authority=True,
        to_channel_from_bot_login_url=f"{settings.login_authority_host.rstrip('/')}/{tenant}",
        to_channel_from_bot_oauth_scope=settings.bot_oauth_scope,
        to_bot_from_channel_token_issuer=settings.bot_token_issuer,
        oauth_url="https://api.botframework.com",
        to_bot_from_channel_open_id_metadata_url=settings.bot_openid_metadata_url,
        to_bot_from_emulator_open_id_metadata_url=settings.emulator_openid_metadata_url,
        caller_id="",
        credential_factory=_CourierCredentialFactory(settings, source),
        auth_configuration=AuthenticationConfiguration(),
        http_client_factory=None,
        connector_client_configuration=None,
    )


class _ReusedConnectors:
    """One connector client per (serviceUrl, audience), kept for the process's life.

    botbuilder builds a new ConnectorClient for every turn: msrest's configuration alone costs milliseconds of CPU
    (its retry policy builds a list of status codes by scanning a 500-element list 999 times), and each new client
    opens a new TLS connection for the reply. The credentials come from Courier's own factory either way (only
    Courier's app id gets any), and the client asks them for a token per request, so a kept client stays current."""

    MAX = 64  # service URLs are per region, a handful in practice; the bound only guards against surprises

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}

    def wrap(self, inner: ConnectorFactory) -> ConnectorFactory:
        outer = self

        class _Factory(ConnectorFactory):  # type: ignore[misc]
            async def create(self, service_url: str, audience: str) -> Any:
                return await outer.get(inner, service_url, audience)

        return _Factory()

    async def get(self, inner: ConnectorFactory, service_url: str, audience: str) -> Any:
        key = (service_url, audience or "")
        client = self._clients.get(key)
        if client is None:
            client = await inner.create(service_url, audience)
            if len(self._clients) >= self.MAX:
                self._clients.pop(next(iter(self._clients)))
            self._clients[key] = client
        return client


class _ReusingAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """botbuilder's authentication, unchanged, except that what it builds per turn is built once and kept: the
    connector client (see :class:`_ReusedConnectors`) and the user-token client (Courier signs people in with its
    own delegated flow and never calls it; botbuilder builds one per turn regardless, at the same msrest cost)."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._connectors = _ReusedConnectors()
        self._user_token_clients: dict[str, Any] = {}

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        if result is not None and result.connector_factory is not None:
            result.connector_factory = self._connectors.wrap(result.connector_factory)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._connectors.wrap(self._inner.create_connector_factory(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        claims = claims_identity.claims or {}
        key = str(claims.get("aud") or claims.get("appid") or "")
        client = self._user_token_clients.get(key)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._user_token_clients[key] = client
        return client

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


# ------------------------------------------------------------------------------------------------------
# The Turn implementation over TurnContext


def _outbound(message: Message) -> Activity:
    activity = Activity(type=ActivityTypes.message)
    attachments = message.attachments()
    if attachments:
        # With a card, the text is the notification preview, not a second bubble above the card.
        summary = message.summary or message.text
        if summary:
            activity.summary = summary
    elif message.text:
        activity.text = message.text
    if attachments:
        from botbuilder.schema import Attachment

        activity.attachments = [Attachment(content_type=a["contentType"], content=a["content"]) for a in attachments]
    return activity


class BotbuilderTurn:
    """:class:`bot.platform.teams.turn.Turn` over a botbuilder TurnContext."""

    def __init__(self, context: TurnContext, activity: InboundActivity, correlation_id: str) -> None:
        self._context = context
        self._activity = activity
        self._state = TurnState(correlation_id=correlation_id)

    @property
    def activity(self) -> InboundActivity:
        return self._activity

    @property
    def state(self) -> TurnState:
        return self._state

    async def reply(self, message: Message) -> str | None:
        try:
            response = await self._context.send_activity(_outbound(message))
        except Exception as exc:
            raise _delivery_error(exc) from exc
        return getattr(response, "id", None)

    async def update(self, activity_id: str, message: Message) -> None:
        outbound = _outbound(message)
        outbound.id = activity_id
        try:
            await self._context.update_activity(outbound)
        except Exception as exc:
            raise _delivery_error(exc) from exc

    def conversation_reference(self) -> dict[str, Any]:
        reference = TurnContext.get_conversation_reference(self._context.activity)
        serialized: dict[str, Any] = reference.serialize()
        # The triggering activity's id is not part of where to speak; keeping it would make every
        # redelivery look like a changed reference.
        serialized.pop("activityId", None)
        return serialized


async def _close_client(client: Any) -> None:
    """Close the connector client botbuilder made for one turn: its HTTP session's pooled connections otherwise
    stay open (CLOSE-WAIT once the channel's side times them out) until the garbage collector finds them."""
    if client is None:
        return
    try:
        await client.__aexit__(None, None, None)
    except Exception:
        logger.debug("closing a turn's connector client failed", exc_info=True)


# ------------------------------------------------------------------------------------------------------
# The adapter


TurnHandler = Callable[[Turn], Awaitable[None]]
# Activities Teams expects no answer to (read receipts and other events): they skip botbuilder's turn machinery (a
# connector client built per turn, the activity deserialized a second time) and run the dispatcher on a QuietTurn.
QUIET_TYPES = frozenset({"event"})
# Validated channel tokens, remembered until their expiry: the Bot Framework reuses one token for many requests.
TOKEN_CACHE_SIZE = 1024


class CourierAdapter:
    """Owns botbuilder's CloudAdapter; exposes an aiohttp handler and proactive sends."""

    def __init__(self, settings: Settings, handler: TurnHandler, token_source: TokenSource | None) -> None:
        if not settings.app_id and not settings.dangerously_allow_anonymous:
            raise RuntimeError("anonymous mode needs COURIER_DANGEROUSLY_ALLOW_ANONYMOUS=1")
        self._settings = settings
        self._handler = handler
        self._cloud = CloudAdapter(_ReusingAuthentication(_build_authentication(settings, token_source)))
        self._cloud.on_turn_error = self._on_turn_error
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._validated: dict[tuple[str, Any, Any], tuple[float, Any]] = {}
        self._admission = TurnAdmission(settings.concurrent_message_turns)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        # The dispatcher's ErrorBoundary answers users; this only catches failures outside it.
        logger.error("unhandled error in a turn: %s", type(error).__name__, exc_info=error)

    async def handle_messages(self, request: web.Request) -> web.Response:
        """``POST /api/messages``: size and JSON first, then the token, then the typed activity; never a 500."""
        if request.content_type != "application/json":
            return _problem(415, "expected Content-Type: application/json")
        try:
            body = await read_json_body(request, MAX_BODY_BYTES)
        except BodyRefused as refused:
            return _problem(refused.status, refused.message)
        auth_header = request.headers.get("Authorization", "")
        settings = self._settings
        if not auth_header and not settings.anonymous and not settings.dangerously_skip_inbound_auth:
            return _problem(401, "missing Authorization header")
        authenticated = await self._authenticate(body, auth_header)
        if authenticated is None:
            return _problem(401, "the request's token is not valid for this bot")
        try:
            inbound = parse_activity(body)
            activity = Activity().deserialize(body) if inbound.type not in QUIET_TYPES else None
        except Exception as exc:  # MalformedActivity, or msrest's DeserializationError zoo for wrong-typed fields
            logger.warning("rejected a malformed activity: %s", str(exc)[:300])
            return _problem(400, f"malformed activity: {str(exc)[:200]}")
        correlation_id = uuid.uuid4().hex[:12]
        if activity is None:
            await self._handler(QuietTurn(inbound, correlation_id))
            return web.Response(status=200)
        captured: dict[str, Any] = {}

        async def logic(context: TurnContext) -> None:
            captured["client"] = context.turn_state.get(self._cloud.BOT_CONNECTOR_CLIENT_KEY)
            turn = BotbuilderTurn(context, inbound, correlation_id)
            await self._handler(turn)
            response = turn.state.invoke_response
            if response is not None:
                captured["response"] = response

        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            async with self._admission.admit(inbound.type):
                await self._cloud.process_activity(authenticated, activity, logic)
        finally:
            if task is not None:
                self._in_flight.discard(task)
            await _close_client(captured.get("client"))

        if inbound.type == "invoke":
            response = captured.get("response")
            if response is None:
                return web.json_response({}, status=200)
            if response.body is None:
                return web.Response(status=response.status)
            return web.json_response(response.body, status=response.status)
        return web.Response(status=200)

    async def _authenticate(self, body: Any, auth_header: str) -> Any | None:
        """botbuilder's claims identity for this request, or None (logged) when its token is not acceptable.

        Only the two fields the check needs are read from the body first, so nothing else of an unauthenticated
        request is parsed. Every failure (bad signature, expired, wrong audience, unknown key, missing endorsement,
        serviceUrl mismatch, garbled header) is a refusal: botbuilder raises a zoo of exception types for these,
        some of which CloudAdapter would turn into a 500."""
        refusal = channel_token_problem(auth_header, self._settings)
        if refusal is not None:
            logger.warning("refused an inbound request: %s", refusal)
            return None
        channel, service_url = body.get("channelId"), body.get("serviceUrl")
        key = (auth_header, channel, service_url)
        remembered = self._validated.get(key)
        if remembered is not None and remembered[0] > time.time():
            return remembered[1]
        envelope = Activity(
            channel_id=channel if isinstance(channel, str) else None,
            service_url=service_url if isinstance(service_url, str) else None,
        )
        try:
            authenticated = await self._cloud.bot_framework_authentication.authenticate_request(
                envelope, auth_header or None
            )
            if authenticated is None or authenticated.claims_identity is None:
                raise PermissionError("no identity")
        except Exception as exc:
            logger.warning("refused an inbound request: %s", _auth_reason(exc))
            return None
        self._remember(key, authenticated)
        return authenticated

    def _remember(self, key: tuple[str, Any, Any], authenticated: Any) -> None:
        """Keep a validated token for this channel and serviceUrl until it expires (the same token, channel and
        serviceUrl pass the same checks until then)."""
        expiry = (authenticated.claims_identity.claims or {}).get("exp")
        if not isinstance(expiry, int | float) or self._settings.anonymous:
            return
        if len(self._validated) >= TOKEN_CACHE_SIZE:
            now = time.time()
            self._validated = {k: v for k, v in self._validated.items() if v[0] > now}
            if len(self._validated) >= TOKEN_CACHE_SIZE:
                self._validated.clear()
        self._validated[key] = (float(expiry), authenticated)

    async def drain(self, grace_seconds: float) -> None:
        """Wait for in-flight turns (used at shutdown)."""
        pending = [t for t in self._in_flight if t is not asyncio.current_task()]
        if pending:
            logger.info("waiting for %d in-flight turns", len(pending))
            await asyncio.wait(pending, timeout=grace_seconds)


def _delivery_error(exc: BaseException) -> SendFailure:
    """botbuilder's connector error as Courier's one failure type, classified like the aiohttp client's."""
    response = getattr(exc, "response", None)
    status = int(getattr(response, "status_code", 0) or 0)
    code, message = "Unknown", str(exc)
    text = getattr(response, "text", None)
    if isinstance(text, str) and text:
        try:
            body = json.loads(text)
            error = body.get("error", {}) if isinstance(body, dict) else {}
            code = str(error.get("code") or code)
            message = str(error.get("message") or message)
        except ValueError:
            message = text[:300]
    retry_after: float | None = None
    headers = getattr(response, "headers", None) or {}
    if "Retry-After" in headers:
        try:
            retry_after = float(headers["Retry-After"])
        except ValueError:
            retry_after = None
    kind, reason = classify(status, code, message) if status else (FailureKind.MAYBE_DELIVERED, "connection_lost")
    return SendFailure(status, code, message, kind, retry_after, reason)


def channel_token_problem(auth_header: str, settings: Settings) -> str | None:
    """Why this request's token is not a Bot Framework *channel* token, checked before botbuilder sees it, or None.

    botbuilder also accepts tokens of the Bot Framework Emulator's issuer and tokens without ``exp``; with an app id
    (and no ``dangerously_*`` switch) Courier accepts only the channel's issuer, with an expiry. The signature,
    audience, endorsements and ``serviceUrl`` are then botbuilder's checks."""
    if settings.anonymous or settings.dangerously_skip_inbound_auth:
        return None
    scheme, _, token = auth_header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "not a bearer token"
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        return f"unreadable token ({type(exc).__name__})"
    if claims.get("iss") != settings.bot_token_issuer:
        return "the token's issuer is not the Bot Framework channel"
    if not isinstance(claims.get("exp"), int | float):
        return "the token has no expiry"
    return None


def _auth_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": {"status": status, "message": detail}}, status=status)
