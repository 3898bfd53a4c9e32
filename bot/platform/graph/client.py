"""The one Microsoft Graph client. Features never build Graph requests themselves.

- Tokens: app-only from Courier's credential (per tenant) or a delegated token provider.
- Retries 429, 503 and 504 honouring ``Retry-After`` (exponential backoff with full jitter otherwise), bounded; a
  401 is retried once with a fresh token. A 429 pauses every caller of that tenant, not just the one that got it.
- Per-tenant concurrency (semaphore) and rate (token bucket) limits.
- ``paged`` streams ``@odata.nextLink`` pages; ``batch`` sends JSON ``$batch`` requests 20 at a time.
- Errors become :mod:`bot.platform.graph.errors` types.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.platform.graph.errors import GraphError, GraphUnavailable, NotFound, PermissionDenied, Throttled
from bot.platform.identity.credentials import AppCredential, CredentialError
from bot.platform.telemetry import Telemetry

logger = logging.getLogger(__name__)

TokenProvider = Callable[[bool], Awaitable[str]]  # force_refresh -> bearer token
Sleep = Callable[[float], Awaitable[None]]
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
RETRY_STATUSES = frozenset({429, 503, 504})
BATCH_LIMIT = 20


@dataclass(frozen=True, slots=True)
class BatchRequest:
    id: str
    method: str
    url: str  # relative to the version root, e.g. "/users/abc"
    body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BatchResponse:
    id: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _TenantGate:
    """Concurrency, rate and shared 429 pause for one tenant."""

    def __init__(self, concurrency: int, rate: float, clock: Callable[[], float]) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._rate = rate
        self._tokens = rate
        self._updated = clock()
        self._lock = asyncio.Lock()
        self.paused_until = 0.0

    async def acquire(self, sleep: Sleep) -> None:
        while True:
            async with self._lock:
                now = self._clock()
                if now < self.paused_until:
                    wait = self.paused_until - now
                else:
                    self._tokens = min(self._rate, self._tokens + (now - self._updated) * self._rate)
                    self._updated = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self._rate
            await sleep(wait)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self._clock() + seconds)


class GraphClient:
    def __init__(
        self,
        base_url: str,
        *,
        consent_url: Callable[[str], str | None] = lambda tenant: None,
        ssl_context: ssl.SSLContext | None = None,
        max_attempts: int = 5,
        per_tenant_concurrency: int = 4,
        per_tenant_rps: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.telemetry = telemetry or Telemetry.off()
        self.base_url = base_url.rstrip("/")
        self._consent_url = consent_url
        self._ssl = ssl_context
        self.max_attempts = max_attempts
        self._concurrency = per_tenant_concurrency
        self._rps = per_tenant_rps
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self.sleep = sleep
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._gates: dict[str, _TenantGate] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def app(self, credential: AppCredential, tenant_id: str) -> GraphCaller:
        async def token(force: bool) -> str:
            try:
                return (await credential.get_token(GRAPH_SCOPE, tenant_id=tenant_id)).token
            except CredentialError as exc:
                if exc.code == "AADSTS65001":
                    raise PermissionDenied(None, self._consent_url(tenant_id), str(exc)) from exc
                raise

        return GraphCaller(self, tenant_id, token)

    def with_token(self, provider: Callable[[], Awaitable[str]], tenant_id: str) -> GraphCaller:
        async def token(force: bool) -> str:
            return await provider()

        return GraphCaller(self, tenant_id, token)

    # -- the engine -------------------------------------------------------------------------------------
    def _gate(self, tenant_id: str) -> _TenantGate:
        gate = self._gates.get(tenant_id)
        if gate is None:
            gate = self._gates[tenant_id] = _TenantGate(self._concurrency, self._rps, self._clock)
        return gate

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl else aiohttp.TCPConnector()
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))
        return self._session

    def _url(self, path: str) -> str:
        return (
            path if path.startswith("https://") or path.startswith("http://") else f"{self.base_url}/{path.lstrip('/')}"
        )

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**attempt))  # noqa: S311 - jitter

    async def request(
        self,
        method: str,
        path: str,
        *,
        tenant_id: str,
        token: TokenProvider,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        permission: str | None = None,
    ) -> Any:
        """One Graph call (retried on 429/503/504 and connection failures), traced as one span."""
        with self.telemetry.span(f"graph {method}", {"http.request.method": method}, client=True) as span:
            try:
                return await self._request(
                    method,
                    path,
                    tenant_id=tenant_id,
                    token=token,
                    json=json,
                    params=params,
                    headers=headers,
                    permission=permission,
                )
            except GraphError as exc:
                span.set("http.response.status_code", exc.status)
                span.fail(exc.code)
                raise

    async def _request(
        self,
        method: str,
        path: str,
        *,
        tenant_id: str,
        token: TokenProvider,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        permission: str | None = None,
    ) -> Any:
        url = self._url(path)
        gate = self._gate(tenant_id)
        force_refresh = False
        refreshed = False
        retry_after: float | None = None
        last: GraphError | None = None
        for attempt in range(self.max_attempts):
            await gate.acquire(self.sleep)
            bearer = await token(force_refresh)
            try:
                async with gate.semaphore:
                    response = await self._http().request(
                        method,
                        url,
                        json=json,
                        params=params,
                        headers={"Authorization": f"Bearer {bearer}", **(headers or {})},
                    )
                    async with response:
                        status = response.status
                        body = await _body(response)
                        retry_after = _retry_after(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = GraphUnavailable(0, type(exc).__name__, str(exc) or "no connection")
                logger.info("graph %s %s failed to connect (attempt %d)", method, _path(url), attempt + 1)
                await self.sleep(self._backoff(attempt))
                continue
            logger.debug("graph %s %s -> %d (attempt %d)", method, _path(url), status, attempt + 1)
            self.telemetry.graph_call(method, status)
            if status < 300:
                return body
            error = _error(status, body)
            if status == 401 and not refreshed:
                refreshed = force_refresh = True
                continue
            if status in RETRY_STATUSES:
                wait = retry_after if retry_after is not None else self._backoff(attempt)
                if status == 429:
                    gate.pause(wait)  # every caller of this tenant slows down
                last = (
                    Throttled(retry_after, error.message)
                    if status == 429
                    else GraphUnavailable(status, error.code, error.message)
                )
                logger.info("graph %s %s -> %d, retrying in %.1fs", method, _path(url), status, wait)
                if attempt + 1 < self.max_attempts:
                    await self.sleep(wait)
                continue
            raise self._typed(status, error, tenant_id, permission)
        assert last is not None
        raise last

    def _typed(self, status: int, error: GraphError, tenant_id: str, permission: str | None) -> GraphError:
        if status == 403 or "AADSTS65001" in error.message:
            return PermissionDenied(permission, self._consent_url(tenant_id), error.message)
        if status == 404:
            return NotFound(status, error.code, error.message)
        if status >= 500:
            return GraphUnavailable(status, error.code, error.message)
        return error


class GraphCaller:
    """Graph calls for one tenant with one kind of token (app-only or delegated)."""

    def __init__(self, client: GraphClient, tenant_id: str, token: TokenProvider) -> None:
        self._client = client
        self.tenant_id = tenant_id
        self._token = token

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self._client.request(method, path, tenant_id=self.tenant_id, token=self._token, **kwargs)

    async def get(
        self,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        permission: str | None = None,
    ) -> Any:
        """``headers``: e.g. ``ConsistencyLevel: eventual`` for a directory advanced query."""
        return await self._call("GET", path, params=params, headers=headers, permission=permission)

    async def post(
        self, path: str, json: Any, *, headers: dict[str, str] | None = None, permission: str | None = None
    ) -> Any:
        return await self._call("POST", path, json=json, headers=headers, permission=permission)

    async def patch(self, path: str, json: Any, *, permission: str | None = None) -> Any:
        return await self._call("PATCH", path, json=json, permission=permission)

    async def delete(self, path: str, *, permission: str | None = None) -> Any:
        return await self._call("DELETE", path, permission=permission)

    async def paged(
        self, path: str, *, params: dict[str, str] | None = None, permission: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a collection, a page at a time, following ``@odata.nextLink``."""
        next_url: str | None = path
        first = True
        while next_url:
            page = await self.get(next_url, params=params if first else None, permission=permission)
            first = False
            for item in page.get("value", []) if isinstance(page, dict) else []:
                yield item
            next_url = page.get("@odata.nextLink") if isinstance(page, dict) else None

    async def batch(self, requests: list[BatchRequest], *, permission: str | None = None) -> list[BatchResponse]:
        """JSON ``$batch``, 20 per POST; throttled items are retried after their ``Retry-After``."""
        results: dict[str, BatchResponse] = {}
        pending = list(requests)
        for attempt in range(self._client.max_attempts):
            if not pending:
                break
            retry: list[BatchRequest] = []
            wait = 0.0
            for start in range(0, len(pending), BATCH_LIMIT):
                chunk = pending[start : start + BATCH_LIMIT]
                body = {
                    "requests": [
                        {
                            "id": r.id,
                            "method": r.method,
                            "url": r.url,
                            **(
                                {"body": r.body, "headers": {"Content-Type": "application/json"}}
                                if r.body is not None
                                else {}
                            ),
                        }
                        for r in chunk
                    ]
                }
                answer = await self.post("$batch", body, permission=permission)
                by_id = {r.id: r for r in chunk}
                for item in answer.get("responses", []):
                    response = BatchResponse(
                        id=str(item.get("id")),
                        status=int(item.get("status", 0)),
                        body=item.get("body"),
                        headers=item.get("headers") or {},
                    )
                    if response.status in RETRY_STATUSES and attempt + 1 < self._client.max_attempts:
                        retry.append(by_id[response.id])
                        wait = max(wait, _retry_after(response.headers.get("Retry-After")) or 1.0)
                    else:
                        results[response.id] = response
            pending = retry
            if pending:
                await self._client.sleep(wait)
        return [results[r.id] for r in requests if r.id in results]


async def _body(response: aiohttp.ClientResponse) -> Any:
    if response.status == 204:
        return None
    text = await response.text()
    if not text:
        return None
    try:
        return await response.json(content_type=None)
    except ValueError:
        return {"raw": text[:500]}


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error(status: int, body: Any) -> GraphError:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return GraphError(status, str(error.get("code") or status), str(error.get("message") or ""))
    return GraphError(status, str(status), str(body)[:300] if body else "")


def _path(url: str) -> str:
    return urlsplit(url).path
