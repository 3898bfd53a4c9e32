"""The aiohttp application: routes, start-up and clean shutdown. ``app.py`` builds it from settings."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bot.adapter import CourierAdapter
from bot.cards import CardRenderer
from bot.graph.client import GraphClient
from bot.http import client_ssl_context
from bot.identity.consent import AdminConsent, admin_consent_url
from bot.identity.credentials import AppCredential
from bot.identity.crypto import TokenCipher
from bot.identity.delegated import DelegatedAuth, delegated_enabled
from bot.identity.routes import setup_identity_routes
from bot.identity.services import IdentityServices
from bot.insights.runtime import install_insights
from bot.meetings.sync import install_meetings
from bot.outreach.runtime import install_outreach
from bot.proactive import Proactive
from bot.reminders.runtime import install_reminders
from bot.services import Services, utc_now
from bot.settings import Settings
from bot.storage import open_store
from bot.storage.base import Store
from bot.turns.dispatch import Dispatcher
from bot.turns.middleware import default_middleware
from bot.turns.router import Router
from bot.version import VERSION

logger = logging.getLogger(__name__)

FeatureRegistrar = Callable[[Router, Services], None]
RouteInstaller = Callable[[web.Application, Services, CourierAdapter], Awaitable[None]]

SERVICES_KEY = web.AppKey("services", Services)
ADAPTER_KEY = web.AppKey("adapter", CourierAdapter)
ROUTER_KEY = web.AppKey("router", Router)


def build_router(services: Services, features: Sequence[FeatureRegistrar]) -> Router:
    router = Router()
    for register in features:
        register(router, services)
    return router


async def create_app(
    settings: Settings,
    *,
    features: Sequence[FeatureRegistrar],
    credential: AppCredential | None,
    extra_routes: Sequence[RouteInstaller] = (),
) -> web.Application:
    """Open storage, register every feature, and return the ready aiohttp application."""
    store = await open_store(settings.database_url)
    proactive = Proactive(store)
    services = Services(
        settings=settings,
        store=store,
        cards=CardRenderer(),
        proactive=proactive,
        identity=build_identity(settings, store, credential),
    )
    router = build_router(services, features)
    dispatcher = Dispatcher(router, default_middleware(services), services.cards)
    adapter = CourierAdapter(settings, dispatcher.handle, credential)
    proactive.bind(adapter)

    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES_KEY] = services
    app[ADAPTER_KEY] = adapter
    app[ROUTER_KEY] = router
    app.router.add_post("/api/messages", adapter.handle_messages)
    app.router.add_get("/healthz", _healthz)
    setup_identity_routes(app, services)
    outreach = install_outreach(app, services, credential)
    install_reminders(app, services, outreach.sender)
    install_meetings(app, services)
    install_insights(app, services, credential)
    for install in extra_routes:
        await install(app, services, adapter)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_store)
    return app


def build_identity(settings: Settings, store: Store, credential: AppCredential | None) -> IdentityServices | None:
    if settings.anonymous:
        return None
    delegated = None
    consent = None
    if delegated_enabled(settings):
        if not settings.encryption_key:
            raise RuntimeError("COURIER_ENCRYPTION_KEY is required for delegated sign-in")
        delegated = DelegatedAuth(settings, store, TokenCipher(settings.encryption_key), utc_now)
        consent = AdminConsent(settings, store, utc_now)
    graph = GraphClient(
        settings.graph_base_url,
        consent_url=lambda tenant: admin_consent_url(settings, tenant) if settings.public_url else None,
        ssl_context=client_ssl_context(settings),
    )
    return IdentityServices(credential=credential, delegated=delegated, consent=consent, graph=graph)


async def _healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    try:
        storage_ok = await services.store.ping()
    except Exception:
        logger.exception("storage ping failed")
        storage_ok = False
    body = {
        "status": "ok" if storage_ok else "degraded",
        "version": VERSION,
        "storage": {
            "backend": "sqlite" if services.settings.is_sqlite else "postgresql",
            "reachable": storage_ok,
        },
        "auth": "anonymous" if services.settings.anonymous else "entra",
    }
    return web.json_response(body, status=200 if storage_ok else 503)


async def _drain(app: web.Application) -> None:
    adapter = app[ADAPTER_KEY]
    await adapter.drain(app[SERVICES_KEY].settings.shutdown_grace_seconds)


async def _close_store(app: web.Application) -> None:
    identity = app[SERVICES_KEY].identity
    if identity is not None and identity.graph is not None:
        await identity.graph.close()
    await app[SERVICES_KEY].store.close()
    logger.info("storage closed")
