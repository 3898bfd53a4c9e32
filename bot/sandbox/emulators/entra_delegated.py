"""Entra's delegated flows, plugged into :class:`EntraEmulator`: authorize (auth code + PKCE), code redemption,
refresh tokens (rotating, or rejected on demand), and the admin consent page.

The "user" at the authorize page is simulated: it approves as ``signed_in_user`` (or declines consent when
``deny_consent`` is set) and redirects back to the app with ``code`` and ``state``, as a browser would. With
``sign_in_page`` on and nobody preset, the page is real instead: it lists ``directory`` (the people of the local
tenant) and the person picks who they are (an HTML form POSTed back to the authorize URL), as in the local sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.sandbox.emulators.entra import EntraEmulator, error
from bot.sandbox.emulators.keys import b64url, now

# The Teams clients Microsoft's docs say to pre-authorize for a tab's single sign-on.
TEAMS_DESKTOP_CLIENT_ID = "1fec8e78-bce4-4aaf-ab1b-5451cc387264"
TEAMS_WEB_CLIENT_ID = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"
GRAPH_RESOURCE = "https://graph.microsoft.com"


@dataclass
class EntraUser:
    oid: str
    name: str
    upn: str


@dataclass
class DelegatedState:
    signed_in_user: EntraUser | None = None
    deny_consent: bool = False
    deny_admin_consent: bool = False
    reject_refresh: bool = False
    access_token_lifetime: int = 3600
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    redeemed_codes: int = 0
    refreshes: int = 0
    sign_in_page: bool = False  # a person picks an account on a page (the local sandbox); tests preset one instead
    directory: list[EntraUser] = field(default_factory=list)


def install_delegated(entra: EntraEmulator) -> DelegatedState:
    """Add the delegated routes and grants to ``entra`` (before ``start()``) and return their state."""
    flows = _DelegatedFlows(entra, DelegatedState())
    entra.app.router.add_get("/{tenant}/oauth2/v2.0/authorize", flows.authorize)
    entra.app.router.add_post("/{tenant}/oauth2/v2.0/authorize", flows.pick_account)
    entra.app.router.add_get("/{tenant}/adminconsent", flows.admin_consent)
    entra.grant_handlers["authorization_code"] = flows.authorization_code
    entra.grant_handlers["refresh_token"] = flows.refresh_token
    return flows.state


def _resource(scopes: list[str]) -> str:
    """The resource scopes name (``api://host/app/access_as_user`` -> ``api://host/app``); Graph for bare names."""
    for scope in scopes:
        if scope.startswith("api://"):
            return scope.rsplit("/", 1)[0]
    return GRAPH_RESOURCE


def sso_token(
    entra: EntraEmulator,
    *,
    tenant: str,
    user: EntraUser,
    resource: str,
    client_id: str = TEAMS_WEB_CLIENT_ID,
    expires_in: int = 3600,
    scope: str = "access_as_user",
) -> str:
    """A person's delegated access token for ``resource``, as Entra issues it to a client acting for them: what
    Teams hands a tab from ``authentication.getAuthToken()`` (client: a Teams client, scope ``access_as_user``)."""
    return entra.issue_token(
        audience=resource,
        tenant=tenant,
        client_id=client_id,
        expires_in=expires_in,
        oid=user.oid,
        scp=scope,
        name=user.name,
        upn=user.upn,
    )


class _DelegatedFlows:
    def __init__(self, entra: EntraEmulator, state: DelegatedState) -> None:
        self.entra = entra
        self.state = state

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        tenant = request.match_info["tenant"]
        redirect_uri = q.get("redirect_uri", "")
        if q.get("response_type") != "code" or not redirect_uri:
            return error(400, "invalid_request", 900144, "The request body must contain 'response_type=code'.")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return error(400, "invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
        if self.state.sign_in_page and self.state.signed_in_user is None and not self.state.deny_consent:
            return sign_in_page(request.path_qs, self.state.directory, q.get("login_hint", ""))
        if self.state.deny_consent or self.state.signed_in_user is None:
            query = {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
                "state": q.get("state", ""),
            }
            raise web.HTTPFound(f"{redirect_uri}?{urlencode(query)}")
        raise web.HTTPFound(self.approve(q, tenant, self.state.signed_in_user))

    def approve(self, q: Mapping[str, str], tenant: str, user: EntraUser) -> str:
        """A code for ``user``; the redirect back to the app that carries it."""
        code = secrets.token_urlsafe(32)
        self.state.codes[code] = {
            "client_id": q.get("client_id"),
            "redirect_uri": q["redirect_uri"],
            "challenge": q["code_challenge"],
            "nonce": q.get("nonce"),
            "scope": q.get("scope", ""),
            "user": user,
            "tenant": tenant,
        }
        query = {"code": code, "state": q.get("state", ""), "session_state": str(uuid.uuid4())}
        return f"{q['redirect_uri']}?{urlencode(query)}"

    async def pick_account(self, request: web.Request) -> web.StreamResponse:
        """The sign-in page's form: the person picked an account (or cancelled)."""
        q = request.query
        form = await request.post()
        if not self.state.sign_in_page or q.get("response_type") != "code" or not q.get("redirect_uri"):
            return error(400, "invalid_request", 900144, "The request is not a sign-in page submission.")
        if not q.get("code_challenge"):
            return error(400, "invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
        login = str(form.get("login", "")).lower()
        user = next((u for u in self.state.directory if u.upn.lower() == login), None)
        if user is None:
            query = {
                "error": "access_denied",
                "error_description": "AADSTS50126: The user cancelled the sign-in or the account does not exist.",
                "state": q.get("state", ""),
            }
            raise web.HTTPFound(f"{q['redirect_uri']}?{urlencode(query)}")
        raise web.HTTPFound(self.approve(q, request.match_info["tenant"], user))

    async def admin_consent(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        tenant = request.match_info["tenant"]
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") not in self.entra.apps:
            return error(400, "unauthorized_client", 700016, "Application was not found in the directory.")
        if self.state.deny_admin_consent:
            query = {
                "error": "access_denied",
                "error_description": "AADSTS65004: The admin declined to consent to access the app.",
                "state": q.get("state", ""),
                "tenant": tenant,
            }
        else:
            query = {"admin_consent": "True", "tenant": tenant, "state": q.get("state", "")}
        raise web.HTTPFound(f"{redirect_uri}?{urlencode(query)}")

    def tokens(self, client_id: str, tenant: str, user: EntraUser, scope: str, nonce: str | None) -> dict[str, Any]:
        scopes = [s for s in scope.split() if s not in {"openid", "profile", "offline_access"}]
        access = sso_token(
            self.entra,
            tenant=tenant,
            user=user,
            resource=_resource(scopes),
            client_id=client_id,
            expires_in=self.state.access_token_lifetime,
            scope=" ".join(s.rsplit("/", 1)[-1] for s in scopes),
        )
        issued = now()
        id_claims: dict[str, Any] = {
            "iss": f"{self.entra.url}/{tenant}/v2.0",
            "aud": client_id,
            "sub": user.oid,
            "oid": user.oid,
            "tid": tenant,
            "name": user.name,
            "preferred_username": user.upn,
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
        }
        if nonce:
            id_claims["nonce"] = nonce
        refresh = secrets.token_urlsafe(32)
        self.state.refresh_tokens[refresh] = {"client_id": client_id, "tenant": tenant, "user": user, "scope": scope}
        client_info = (
            base64.urlsafe_b64encode(json.dumps({"uid": user.oid, "utid": tenant}).encode()).decode().rstrip("=")
        )
        return {
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "expires_in": self.state.access_token_lifetime,
            "ext_expires_in": self.state.access_token_lifetime,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": self.entra.key.sign(id_claims),
            "client_info": client_info,
        }

    def client(self, emulator: EntraEmulator, tenant: str, form: dict[str, str]) -> tuple[str, web.Response | None]:
        """The authenticated client id, or the error to answer with."""
        registered = emulator.apps.get(form.get("client_id", ""))
        if registered is None:
            return "", error(400, "unauthorized_client", 700016, "Application was not found in the directory.")
        return registered.client_id, emulator.authenticate_client(
            registered, form, f"{emulator.url}/{tenant}/oauth2/v2.0/token"
        )

    async def authorization_code(self, emulator: EntraEmulator, tenant: str, form: dict[str, str]) -> web.Response:
        client_id, problem = self.client(emulator, tenant, form)
        if problem is not None:
            return problem
        grant = self.state.codes.pop(form.get("code", ""), None)
        if grant is None:
            return error(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed or is unknown.")
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return error(
                400, "invalid_grant", 50148, "The redirect URI does not match the one in the authorize request."
            )
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return error(400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge.")
        self.state.redeemed_codes += 1
        return web.json_response(self.tokens(client_id, tenant, grant["user"], grant["scope"], grant["nonce"]))

    async def refresh_token(self, emulator: EntraEmulator, tenant: str, form: dict[str, str]) -> web.Response:
        client_id, problem = self.client(emulator, tenant, form)
        if problem is not None:
            return problem
        grant = self.state.refresh_tokens.pop(form.get("refresh_token", ""), None)
        if grant is None or self.state.reject_refresh:
            return error(
                400,
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued on 2026-01-01.",
            )
        self.state.refreshes += 1
        return web.json_response(self.tokens(client_id, tenant, grant["user"], form.get("scope", grant["scope"]), None))


def sign_in_page(action: str, people: list[EntraUser], hint: str) -> web.Response:
    """Entra's "Pick an account", for a local tenant: one button per person, posted back to ``action``."""
    buttons = "\n".join(
        f'<button name="login" value="{escape(p.upn)}"{" autofocus" if p.upn.lower() == hint.lower() else ""}>'
        f"<b>{escape(p.name)}</b><br><small>{escape(p.upn)}</small></button>"
        for p in people
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account (local sandbox)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto}}
button{{display:block;width:100%;text-align:left;padding:.7rem;margin:.4rem 0;font-size:1rem;cursor:pointer}}</style>
</head><body><h1>Pick an account</h1>
<p>Local sandbox: no password, pick who you are.</p>
<form method="post" action="{escape(action)}">
{buttons}
<button name="login" value="">Cancel</button>
</form></body></html>"""
    return web.Response(text=page, content_type="text/html")
