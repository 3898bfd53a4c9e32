"""Courier's own HTTP endpoints for sign-in and admin consent (browser-facing, small HTML pages)."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.platform import i18n
from bot.platform.i18n import _
from bot.platform.identity.consent import ConsentError
from bot.platform.identity.delegated import InvalidState, SignInFailed
from bot.platform.messaging.proactive import NotDeliverable
from bot.platform.services import Services
from bot.platform.teams.turn import Message

logger = logging.getLogger(__name__)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;"
        "margin:4rem auto;padding:0 1rem;color:#242424}h1{font-size:1.4rem}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status, headers={"Cache-Control": "no-store"})


async def _tell(services: Services, conversation_id: str | None, card: dict[str, object], text: str) -> None:
    if conversation_id is None or services.proactive is None:
        return
    try:
        await services.proactive.send(conversation_id, Message(text=text, card=card))
    except (NotDeliverable, RuntimeError) as exc:
        logger.warning("could not tell the chat about a sign-in or consent outcome: %s", exc)


def _unusable_link(problem: Exception) -> web.Response:
    text = _("{problem}. Ask Courier for a new one in Teams.", problem=problem)
    return _page(_("This sign-in link can't be used"), text, 400)


def _consent_page(granted: bool, description: str | None, app_name: str) -> web.Response:
    if granted:
        return _page(
            _("Consent granted"), _("{app} can now use its permissions. You can close this window.", app=app_name)
        )
    reason = description or _("The consent was declined.")
    return _page(_("Consent not granted"), _("{reason} Features that need these permissions stay off.", reason=reason))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _plain_query(handler: Handler) -> Handler:
    """Refuse a query holding a NUL character (PostgreSQL stores none) before the handler sees it."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        # The browser's language (the person's, as in Teams) for the page and for what is said in Teams after it.
        with i18n.using(request.headers.get("Accept-Language")):
            if any("\x00" in key or "\x00" in value for key, value in request.query.items()):
                return _page(
                    _("This link can't be used"), _("It holds characters no Microsoft sign-in page sends."), 400
                )
            return await handler(request)

    return guarded


def setup_identity_routes(app: web.Application, services: Services) -> None:
    identity = services.identity
    if identity is None:
        return
    app_name = services.settings.app_name

    async def auth_start(request: web.Request) -> web.StreamResponse:
        if identity.delegated is None:
            return _page(_("Sign-in is off"), _("This Courier does not offer sign-in."), 404)
        try:
            url = await identity.delegated.authorize_url(request.query.get("state", ""))
        except InvalidState as exc:
            return _unusable_link(exc)
        raise web.HTTPFound(url)

    async def auth_callback(request: web.Request) -> web.StreamResponse:
        if identity.delegated is None:
            return _page(_("Sign-in is off"), _("This Courier does not offer sign-in."), 404)
        try:
            signed_in = await identity.delegated.complete(dict(request.query))
        except InvalidState as exc:
            return _unusable_link(exc)
        except SignInFailed as exc:
            logger.info("a sign-in failed: %s", exc.error)
            return _page(
                _("Sign-in didn't complete"),
                _("{problem}. Nothing was stored; you can try again from Teams.", problem=exc),
                400,
            )
        card = services.notice(
            _("You're signed in"),
            _("{app} can now act on your behalf for what you ask. Type signout to undo it.", app=app_name),
        )
        await _tell(services, signed_in.conversation_id, card, _("You're signed in."))
        try:
            await services.events.publish(signed_in)
        except Exception:
            logger.exception("a feature failed to resume after sign-in")
        return _page(
            _("You're signed in"), _("{app} can now act on your behalf. You can close this window.", app=app_name)
        )

    async def admin_consent(request: web.Request) -> web.StreamResponse:
        if identity.consent is None:
            return _page(_("Admin consent is off"), _("Set COURIER_PUBLIC_URL to offer admin consent."), 404)
        try:
            url = await identity.consent.redirect_url(request.query.get("tenant", ""), request.query.get("state"))
        except ConsentError as exc:
            return _page(_("Admin consent can't start"), str(exc), 400)
        raise web.HTTPFound(url)

    async def admin_consent_callback(request: web.Request) -> web.StreamResponse:
        if identity.consent is None:
            return _page(_("Admin consent is off"), _("Set COURIER_PUBLIC_URL to offer admin consent."), 404)
        try:
            result = await identity.consent.complete(dict(request.query))
        except ConsentError as exc:
            return _page(_("This consent link can't be used"), str(exc), 400)
        card = services.cards.render(
            "consent_result",
            {
                "app_name": app_name,
                "granted": result.granted,
                "tenant_id": result.tenant_id,
                "description": result.description,
            },
        )
        summary = _("Admin consent granted.") if result.granted else _("Admin consent was not granted.")
        await _tell(services, result.conversation_id, card, summary)
        return _consent_page(result.granted, result.description, app_name)

    app.router.add_get("/auth/start", _plain_query(auth_start))
    app.router.add_get("/auth/callback", _plain_query(auth_callback))
    app.router.add_get("/admin/consent", _plain_query(admin_consent))
    app.router.add_get("/admin/consent/callback", _plain_query(admin_consent_callback))
