"""The Courier console (``/console``): its built files, the browser's sign-in and sign-out, and the platform's
person-facing API (``/api/me``, ``/api/me/settings``, ``/api/conversations``).

The bundle is built from ``console/`` (``npm run build`` -> ``console/dist``, not committed). Hashed assets are
cached for a year; ``index.html`` never. Every console page carries a strict Content-Security-Policy whose
``frame-ancestors`` lets Teams (and only Teams and Courier itself) frame it (``connect-src`` adds the CDN where
teams-js reads Teams' valid origins). A missing build is one line at start-up
and a friendly page at ``/console``.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from bot.platform.access import CSRF_HEADER, SESSION_COOKIE
from bot.platform.identity.delegated import InvalidState, SignInFailed
from bot.platform.identity.sessions import SESSION_TTL, SIGNIN_TTL
from bot.platform.services import Services
from bot.platform.storage.models import ConversationKind
from bot.platform.time import valid_zone
from bot.platform.web.api import caller_or_problem, json_body, problem

logger = logging.getLogger(__name__)

CONSOLE_DIST = Path(__file__).resolve().parents[3] / "console" / "dist"
TEAMS_FRAME_ANCESTORS = (
    "'self' https://teams.microsoft.com https://*.teams.microsoft.com https://*.office.com https://*.cloud.microsoft"
)
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "font-src 'self' data:; connect-src 'self' https://res.cdn.office.net; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; "
    f"frame-ancestors {TEAMS_FRAME_ANCESTORS}"
)
_ASSET = re.compile(r"^[A-Za-z0-9._-]+\.(js|css|svg|png|woff2?|json)$")
_CONTENT_TYPES = {
    "js": "text/javascript",
    "css": "text/css",
    "svg": "image/svg+xml",
    "png": "image/png",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "json": "application/json",
}
SIGNIN_COOKIE = "courier_signin"
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_CONVERSATIONS = 500


def _page(title: str, text: str, status: int = 200) -> web.Response:
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width'><title>{html.escape(title)}</title><style>body{{font-family:system-ui,"
        "sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#242424}h1{font-size:1.4rem}</style>"
        f"</head><body><main><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></main></body></html>"
    )
    return web.Response(
        text=body,
        content_type="text/html",
        status=status,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": CONSOLE_POLICY},
    )


class ConsoleSite:
    def __init__(self, services: Services, dist: Path = CONSOLE_DIST) -> None:
        self._services = services
        self._dist = dist
        public = urlsplit(services.settings.public_url)
        self._secure_cookie = not (public.scheme == "http" and public.hostname in {"127.0.0.1", "localhost"})

    @property
    def built(self) -> bool:
        return (self._dist / "index.html").is_file()

    def install(self, app: web.Application) -> None:
        if not self.built:
            logger.warning("console: no build at %s; build it with: scripts/bootstrap.sh --console", self._dist)
        app.router.add_get("/console", self.index)
        app.router.add_get("/console/", self.index)
        app.router.add_get("/console/signin", self.signin)
        app.router.add_get("/console/callback", self.callback)
        app.router.add_post("/console/signout", self.signout)
        app.router.add_get("/console/assets/{name}", self.asset)
        app.router.add_get("/console/{page:(sent|compose|mine)(/.*)?}", self.index)
        app.router.add_get("/api/me", self.me)
        app.router.add_patch("/api/me/settings", self.update_settings)
        app.router.add_get("/api/conversations", self.conversations)

    # -- files ------------------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        if not self.built:
            return _page(
                "The console isn't built",
                "This Courier was started without the console's web files. An administrator can build them with "
                "scripts/bootstrap.sh --console (or npm ci and npm run build in console/).",
                503,
            )
        response = web.FileResponse(self._dist / "index.html")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = CONSOLE_POLICY
        response.content_type = "text/html"
        return response

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = self._dist / "assets" / name
        if not _ASSET.match(name) or not path.is_file():
            return web.Response(status=404, text="not found", headers={"Cache-Control": "no-store"})
        response = web.FileResponse(path)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.content_type = _CONTENT_TYPES[name.rsplit(".", 1)[-1]]
        return response

    # -- browser sign-in --------------------------------------------------------------------------------
    async def signin(self, request: web.Request) -> web.StreamResponse:
        signin = self._services.auth.signin
        if signin is None:
            return _page("Sign-in is off", "Set COURIER_PUBLIC_URL and COURIER_ENCRYPTION_KEY to sign in here.", 404)
        url, binding = await signin.begin()
        response = web.HTTPFound(url)
        response.set_cookie(
            SIGNIN_COOKIE,
            binding,
            path="/console",
            httponly=True,
            secure=self._secure_cookie,
            samesite="Lax",
            max_age=int(SIGNIN_TTL.total_seconds()),
        )
        raise response

    async def callback(self, request: web.Request) -> web.StreamResponse:
        auth = self._services.auth
        if auth.signin is None or auth.sessions is None:
            return _page("Sign-in is off", "Set COURIER_PUBLIC_URL and COURIER_ENCRYPTION_KEY to sign in here.", 404)
        try:
            user = await auth.signin.complete(dict(request.query), request.cookies.get(SIGNIN_COOKIE, ""))
        except InvalidState as exc:
            return _page("This sign-in can't be used", f"{exc}. Start again from the console.", 400)
        except SignInFailed as exc:
            logger.info("a console sign-in failed: %s", exc.error)
            return _page("Sign-in didn't complete", f"{exc}. Nothing was stored; you can try again.", 400)
        session_id, _ = await auth.sessions.create(user)
        response = web.HTTPFound("/console/")
        response.del_cookie(SIGNIN_COOKIE, path="/console")
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            path="/",
            httponly=True,
            secure=self._secure_cookie,
            samesite="Lax",
            max_age=int(SESSION_TTL.total_seconds()),
        )
        raise response

    async def signout(self, request: web.Request) -> web.StreamResponse:
        caller = await caller_or_problem(self._services, request)
        if isinstance(caller, web.Response):
            return caller
        if caller.session is not None and self._services.auth.sessions is not None:
            await self._services.auth.sessions.delete(request.cookies.get(SESSION_COOKIE, ""))
        response = web.json_response({"signedOut": True})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    # -- the person's API -------------------------------------------------------------------------------
    async def me(self, request: web.Request) -> web.StreamResponse:
        caller = await caller_or_problem(self._services, request)
        if isinstance(caller, web.Response):
            return caller
        if caller.user is None:
            return problem(403, "/api/me describes a person; API keys and app tokens are not one")
        user = caller.user
        prefs = await self._services.store.people.preferences(user.tenant_id, user.user_id)
        zone = next((z for z in (prefs.zone, prefs.teams_zone) if valid_zone(z)), "UTC")
        language = request.headers.get("Accept-Language", "en").split(",")[0].split(";")[0].strip() or "en"
        body = {
            "id": user.user_id,
            "name": user.name,
            "upn": user.upn,
            "tenantId": user.tenant_id,
            "roles": sorted(caller.roles),
            "zone": zone,
            "zoneSet": prefs.zone is not None,
            "quietHours": {"start": prefs.quiet_start, "end": prefs.quiet_end} if prefs.quiet_start else None,
            "locale": language,
            "session": caller.session is not None,
        }
        if caller.session is not None:
            body["csrfToken"] = caller.session.csrf
            body["csrfHeader"] = CSRF_HEADER
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def update_settings(self, request: web.Request) -> web.StreamResponse:
        caller = await caller_or_problem(self._services, request)
        if isinstance(caller, web.Response):
            return caller
        if caller.user is None:
            return problem(403, "settings belong to a person; API keys and app tokens have none")
        body = await json_body(request)
        if isinstance(body, web.Response):
            return body
        values = _settings_values(body)
        if isinstance(values, web.Response):
            return values
        if values:
            people = self._services.store.people
            await people.set_preference(caller.user.tenant_id, caller.user.user_id, self._services.clock(), **values)
        return await self.me(request)

    async def conversations(self, request: web.Request) -> web.StreamResponse:
        caller = await caller_or_problem(self._services, request, sender=True)
        if isinstance(caller, web.Response):
            return caller
        tenant = caller.user.tenant_id if caller.user is not None else None
        found: list[dict[str, str | None]] = []
        for kind in (ConversationKind.CHANNEL, ConversationKind.GROUP_CHAT):
            async for record in self._services.store.iter_conversations(tenant_id=tenant, kind=kind):
                found.append(
                    {
                        "id": record.conversation_id,
                        "kind": record.kind.value,
                        "name": record.name,
                        "teamId": record.team_id,
                        "tenantId": record.tenant_id,
                    }
                )
                if len(found) >= MAX_CONVERSATIONS:
                    break
        return web.json_response({"conversations": found}, headers={"Cache-Control": "no-store"})


def _settings_values(body: dict[str, object]) -> dict[str, str | None] | web.Response:
    values: dict[str, str | None] = {}
    if "zone" in body:
        zone = body["zone"]
        if zone is not None and (not isinstance(zone, str) or valid_zone(zone) is None):
            return problem(400, "is not a time zone Courier knows (e.g. Europe/Paris)", "zone")
        values["zone"] = zone
    if "quietHours" in body:
        quiet = body["quietHours"]
        if quiet is None:
            values.update(quiet_start=None, quiet_end=None)
        elif isinstance(quiet, dict) and all(isinstance(quiet.get(k), str) for k in ("start", "end")):
            start, end = str(quiet["start"]), str(quiet["end"])
            if not _TIME.match(start) or not _TIME.match(end) or start == end:
                return problem(400, "needs a start and an end as HH:MM, different from each other", "quietHours")
            values.update(quiet_start=start, quiet_end=end)
        else:
            return problem(400, 'must be {"start": "HH:MM", "end": "HH:MM"} or null', "quietHours")
    return values


def setup_console(app: web.Application, services: Services) -> None:
    ConsoleSite(services).install(app)
