"""The aiohttp application: routes, start-up and clean shutdown. ``app.py`` builds it from settings."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bot.adapter import CourierAdapter, TokenSource
from bot.cards import CardRenderer
from bot.services import Services
from bot.settings import Settings
from bot.storage import open_store
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
    token_source: TokenSource | None,
    extra_routes: Sequence[RouteInstaller] = (),
) -> web.Application:
    """Open storage, register every feature, and return the ready aiohttp application."""
    store = await open_store(settings.database_url)
    services = Services(settings=settings, store=store, cards=CardRenderer())
    router = build_router(services, features)
    dispatcher = Dispatcher(router, default_middleware(services), services.cards)
    adapter = CourierAdapter(settings, dispatcher.handle, token_source)

    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES_KEY] = services
    app[ADAPTER_KEY] = adapter
    app[ROUTER_KEY] = router
    app.router.add_post("/api/messages", adapter.handle_messages)
    app.router.add_get("/healthz", _healthz)
    for install in extra_routes:
        await install(app, services, adapter)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_store)
    return app


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
    await app[SERVICES_KEY].store.close()
    logger.info("storage closed")
