"""Microsoft Graph (``/v1.0``) over HTTPS: verifies the Entra emulator's tokens and enforces roles, pages
collections with ``@odata.nextLink``, answers ``$batch``, and throttles (429 + Retry-After) on demand.

Later features add routes with :meth:`GraphEmulator.route` (a role requirement and a handler).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.server import ThreadedServer

GRAPH_AUDIENCE = "https://graph.microsoft.com"
Handler = Callable[[web.Request, dict[str, Any]], Awaitable[web.Response]]


def graph_error(status: int, code: str, message: str, retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2026-11-22T00:00:00",
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }
    return web.json_response(body, status=status, headers=headers)


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: float | None
    after: int = 0  # requests let through before this fault starts


@dataclass
class GraphEmulator:
    entra: EntraEmulator
    ssl_context: Any
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    log: list[tuple[str, str, float]] = field(default_factory=list)
    page_size: int = 2
    catalog: dict[str, str] = field(default_factory=dict)  # manifest (external) id -> catalog app id
    installed: dict[str, set[str]] = field(default_factory=dict)  # user id -> catalog app ids installed
    on_install: Callable[[str], None] | None = None  # tells the connector emulator the user now has the app
    # The app's activity types (manifest ``activities.activityTypes``): type -> templateText. Empty: none declared.
    activity_types: dict[str, str] = field(default_factory=dict)
    activity_notifications: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (user id, body)
    port: int = 0  # 0: any free port (tests); the local sandbox asks for a fixed one

    def __post_init__(self) -> None:
        self.app = web.Application()
        self._server = ThreadedServer(self.app, ssl_context=self.ssl_context, port=self.port)
        self.url = ""
        self.route("GET", "/v1.0/users", self._list_users, role="User.Read.All")
        self.route("GET", "/v1.0/users/{id}", self._get_user, role="User.Read.All")
        self.route("GET", "/v1.0/groups/{id}/transitiveMembers", self._members, role="GroupMember.Read.All")
        self.route(
            "GET",
            "/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user",
            self._members,
            role="GroupMember.Read.All",
        )
        self.route("POST", "/v1.0/users/{id}/checkMemberGroups", self._check_member_groups, role="GroupMember.Read.All")
        self.route("GET", "/v1.0/appCatalogs/teamsApps", self._catalog, role="AppCatalog.Read.All")
        self.route(
            "POST",
            "/v1.0/users/{id}/teamwork/installedApps",
            self._install,
            role="TeamsAppInstallation.ReadWriteSelfForUser.All",
        )
        self.route(
            "POST",
            "/v1.0/users/{id}/teamwork/sendActivityNotification",
            self._send_activity_notification,
            role="TeamsActivity.Send",
        )
        self.route("GET", "/v1.0/me", self._me, delegated=True)
        self.app.router.add_post("/v1.0/$batch", self._batch)

    def start(self) -> str:
        self.url = self._server.start() + "/v1.0"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    # -- set-up ------------------------------------------------------------------------------------------
    def add_user(
        self, oid: str, upn: str, name: str, *, user_type: str | None = "Member", enabled: bool = True
    ) -> None:
        """A user of the directory; ``user_type`` "Guest" for an invited guest (None as on some old accounts),
        ``enabled`` False for an account disabled in Entra."""
        self.users[oid] = {
            "id": oid,
            "userPrincipalName": upn,
            "mail": upn,
            "displayName": name,
            "userType": user_type,
            "accountEnabled": enabled,
        }

    def declare_activity_types(self, manifest: dict[str, Any]) -> None:
        """The activity types a Teams app manifest declares, as Teams learns them when the app is uploaded."""
        for item in manifest.get("activities", {}).get("activityTypes", []):
            self.activity_types[str(item["type"])] = str(item["templateText"])

    def add_group(self, group_id: str, member_ids: list[str]) -> None:
        self.groups[group_id] = member_ids

    def inject(self, status: int, count: int = 1, retry_after: float | None = None, *, after: int = 0) -> None:
        """The next ``count`` requests (after letting ``after`` through) answer ``status``."""
        self.faults.append(Fault(status, count, retry_after, after))

    def requests_to(self, path_prefix: str) -> int:
        return sum(1 for _, path, _ in self.log if path.startswith(path_prefix))

    # -- routing with auth -------------------------------------------------------------------------------
    def route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        role: str | None = None,
        delegated: bool = False,
        scope: str | None = None,
    ) -> None:
        async def guarded(request: web.Request) -> web.Response:
            if scope is not None:
                return await self._guard(request, _needs_scope(scope, handler), role=None, delegated=True)
            return await self._guard(request, handler, role=role, delegated=delegated)

        self.app.router.add_route(method, path, guarded)

    async def _guard(
        self, request: web.Request, handler: Handler, *, role: str | None, delegated: bool
    ) -> web.Response:
        self.log.append((request.method, request.path, time.monotonic()))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        try:
            claims = self.entra.key.verify(token, audience=GRAPH_AUDIENCE)
        except jwt.ExpiredSignatureError:
            return graph_error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        except jwt.PyJWTError:
            return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if self.faults and self.faults[0].after > 0:
            self.faults[0].after -= 1
        elif self.faults:
            fault = self.faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.popleft()
            code = "TooManyRequests" if fault.status == 429 else "ServiceUnavailable"
            return graph_error(fault.status, code, "Injected fault.", fault.retry_after)
        is_delegated = "scp" in claims
        if delegated and not is_delegated:
            return graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        if role and not is_delegated and role not in (claims.get("roles") or []):
            return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        return await handler(request, claims)

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        top = min(int(request.query.get("$top", self.page_size)), self.page_size)  # the server caps pages
        skip = int(request.query.get("$skiptoken", "0"))
        select = [p for p in request.query.get("$select", "").split(",") if p]
        page = items[skip : skip + top]
        body: dict[str, Any] = {
            "value": [{k: v for k, v in i.items() if k in select} for i in page] if select else page
        }
        if skip + top < len(items):
            base = f"{request.scheme}://{request.host}{request.path}"
            # The link carries the query on (Graph folds it into an opaque $skiptoken; the client just follows it).
            kept = {k: v for k, v in request.query.items() if k in ("$select", "$filter", "$count")}
            body["@odata.nextLink"] = f"{base}?{urlencode({**kept, '$top': top, '$skiptoken': skip + top})}"
        return web.json_response(body)

    async def _list_users(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        wanted = request.query.get("$filter", "")
        try:
            clauses = _user_filter(wanted)
        except ValueError as exc:
            return graph_error(400, "Request_UnsupportedQuery", str(exc))
        advanced = request.headers.get("ConsistencyLevel", "").lower() == "eventual" and "$count" in request.query
        if any(op != "eq" for _, op, _ in clauses) and not advanced:
            # ne and not are advanced queries: ConsistencyLevel: eventual and $count=true, or Graph refuses.
            return graph_error(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause.")
        users = [u for u in self.users.values() if all(_matches(u, c) for c in clauses)]
        return self._page(request, users)

    async def _get_user(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        key = request.match_info["id"].lower()
        for user in self.users.values():
            if key in (user["id"].lower(), user["userPrincipalName"].lower()):
                return web.json_response(user)
        return graph_error(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist.")

    async def _members(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        group = self.groups.get(request.match_info["id"])
        if group is None:
            return graph_error(404, "Request_ResourceNotFound", "Group not found.")
        return self._page(request, [self.users[m] for m in group if m in self.users])

    def member_of(self, member_id: str) -> set[str]:
        """Every group ``member_id`` belongs to, directly or through nested groups (a member id may be a group's)."""
        found: set[str] = set()
        frontier = {member_id.lower()}
        while frontier:
            parents = {g for g, members in self.groups.items() if frontier & {m.lower() for m in members}} - found
            found |= parents
            frontier = {p.lower() for p in parents}
        return found

    async def _check_member_groups(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        """``POST /users/{id}/checkMemberGroups``: which of up to 20 group ids the user is a transitive member of."""
        user_id = request.match_info["id"].lower()
        if user_id not in {u.lower() for u in self.users}:
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist.")
        try:
            wanted = (await request.json())["groupIds"]
        except (ValueError, KeyError, TypeError):
            return graph_error(400, "Request_BadRequest", "The groupIds parameter is required.")
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= 20:
            return graph_error(400, "Request_BadRequest", "groupIds must hold 1 to 20 group ids.")
        groups = {g.lower() for g in self.member_of(user_id)}
        return web.json_response({"value": [g for g in wanted if str(g).lower() in groups]})

    async def _catalog(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        wanted = request.query.get("$filter", "")
        apps = [
            {"id": catalog_id, "externalId": external, "displayName": "Courier", "distributionMethod": "organization"}
            for external, catalog_id in self.catalog.items()
            if not wanted or f"externalId eq '{external}'" == wanted
        ]
        return web.json_response({"value": apps})

    async def _install(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        user = request.match_info["id"].lower()
        if user not in self.users:
            return graph_error(404, "NotFound", f"User '{user}' not found.")
        body = await request.json()
        bind = str(body.get("teamsApp@odata.bind", ""))
        catalog_id = bind.rsplit("/", 1)[-1]
        if "/appCatalogs/teamsApps/" not in bind or catalog_id not in self.catalog.values():
            return graph_error(400, "BadRequest", "teamsApp@odata.bind must name an app in the catalog.")
        apps = self.installed.setdefault(user, set())
        if catalog_id in apps:
            return graph_error(409, "Conflict", "App is already installed.")
        apps.add(catalog_id)
        if self.on_install is not None:
            self.on_install(user)
        return web.Response(status=201)

    async def _send_activity_notification(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        key = request.match_info["id"].lower()
        user = next((u for u in self.users.values() if key in (u["id"].lower(), u["userPrincipalName"].lower())), None)
        if user is None:
            return graph_error(404, "NotFound", f"User '{key}' not found.")
        try:
            body = await request.json()
        except ValueError:
            return graph_error(400, "BadRequest", "The request body is not JSON.")
        problem = _activity_problem(body, self.activity_types)
        if problem is not None:
            return graph_error(400, "BadRequest", problem)
        self.activity_notifications.append((user["id"], body))
        return web.Response(status=204)

    async def _me(self, request: web.Request, claims: dict[str, Any]) -> web.Response:
        return web.json_response(
            {"id": claims.get("oid"), "displayName": claims.get("name"), "userPrincipalName": claims.get("upn")}
        )

    async def _batch(self, request: web.Request) -> web.Response:
        self.log.append((request.method, request.path, time.monotonic()))
        body = await request.json()
        items = body.get("requests", [])
        if len(items) > 20:
            return graph_error(400, "BadRequest", "The number of requests in a batch cannot exceed 20.")
        responses = []
        for item in items:
            probe = make_mocked_request(item.get("method", "GET"), f"/v1.0{item['url']}", headers=dict(request.headers))
            match = await self.app.router.resolve(probe)
            if match.http_exception is not None:
                result: web.Response = graph_error(404, "BadRequest", "Resource not found for the segment.")
            else:
                sub = make_mocked_request(
                    item.get("method", "GET"),
                    f"/v1.0{item['url']}",
                    headers=dict(request.headers),
                    match_info=dict(match),
                    app=self.app,
                )
                handled = await match.handler(sub)
                assert isinstance(handled, web.Response), "the emulator's handlers answer whole responses"
                result = handled
            headers = {"Retry-After": result.headers["Retry-After"]} if "Retry-After" in result.headers else {}
            payload = result.body if isinstance(result.body, bytes) else b""
            responses.append(
                {
                    "id": item["id"],
                    "status": result.status,
                    "headers": headers,
                    "body": json.loads(payload) if payload else None,
                }
            )
        return web.json_response({"responses": responses})


_FILTERABLE = {"accountEnabled": bool, "userType": str}


def _user_filter(text: str) -> list[tuple[str, str, Any]]:
    """``prop eq|ne value [and ...]`` on accountEnabled and userType, as Graph reads them; ValueError otherwise."""
    clauses: list[tuple[str, str, Any]] = []
    for part in [p.strip() for p in text.split(" and ")] if text.strip() else []:
        words = part.split(" ", 2)
        if len(words) != 3 or words[0] not in _FILTERABLE or words[1] not in ("eq", "ne"):
            raise ValueError(
                f"Unsupported or invalid query filter clause specified for property of resource 'User': {part}"
            )
        name, op, raw = words
        if _FILTERABLE[name] is bool and raw in ("true", "false"):
            clauses.append((name, op, raw == "true"))
        elif _FILTERABLE[name] is str and len(raw) >= 2 and raw[0] == raw[-1] == "'":
            clauses.append((name, op, raw[1:-1]))
        else:
            raise ValueError(f"Invalid filter value for {name}: {raw}")
    return clauses


def _matches(user: dict[str, Any], clause: tuple[str, str, Any]) -> bool:
    name, op, value = clause
    return bool((user.get(name) == value) == (op == "eq"))


def _activity_problem(body: Any, declared: dict[str, str]) -> str | None:
    """What Graph would refuse in a sendActivityNotification body, or None."""
    if not isinstance(body, dict):
        return "The request body must be an object."
    topic = body.get("topic")
    if not isinstance(topic, dict) or topic.get("source") not in ("entityUrl", "text") or not topic.get("value"):
        return "topic must have a source (entityUrl or text) and a value."
    if topic["source"] == "text" and not str(topic.get("webUrl", "")).startswith("https://"):
        return "A text topic needs a webUrl."
    activity_type = body.get("activityType")
    if activity_type != "systemDefault" and activity_type not in declared:
        return f"Activity type '{activity_type}' is not declared in the app manifest."
    preview = body.get("previewText")
    if not isinstance(preview, dict) or not isinstance(preview.get("content"), str):
        return "previewText must be an itemBody with content."
    parameters = body.get("templateParameters", [])
    if not isinstance(parameters, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("value"), str) for p in parameters
    ):
        return "templateParameters must be a list of {name, value} strings."
    names = {p["name"] for p in parameters}
    wanted = set(re.findall(r"\{(\w+)\}", declared.get(str(activity_type), ""))) - {"actor"}
    if wanted - names:
        return f"Template parameters missing: {', '.join(sorted(wanted - names))}."
    return None


def _needs_scope(scope: str, handler: Handler) -> Handler:
    """A delegated route that also needs ``scope`` in the token's ``scp`` (403 otherwise, as Graph answers)."""

    async def checked(request: web.Request, claims: dict[str, Any]) -> web.Response:
        granted = str(claims.get("scp", "")).split()
        if scope not in granted and scope.replace(".Read", ".ReadWrite") not in granted:
            return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return await handler(request, claims)

    return checked


__all__ = ["GRAPH_AUDIENCE", "GraphEmulator", "graph_error"]
