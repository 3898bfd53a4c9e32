"""The aiohttp application: the platform's services, the features it is given, routes, start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import hmac
import ipaddress
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bot.platform.access import CallerAuth
from bot.platform.background import WorkerHealth, background
from bot.platform.cards import CardRenderer
from bot.platform.events import EventBus
from bot.platform.feature import Feature, FeatureClass, migration_folders
from bot.platform.graph.client import GraphClient
from bot.platform.http import client_ssl_context
from bot.platform.identity.consent import AdminConsent, admin_consent_url
from bot.platform.identity.credentials import AppCredential
from bot.platform.identity.crypto import TokenCipher, check_key
from bot.platform.identity.delegated import DelegatedAuth, delegated_enabled
from bot.platform.identity.sessions import ConsoleSessions, ConsoleSignIn
from bot.platform.identity.tokens import EntraTokenValidator
from bot.platform.jobs import JobScheduler
from bot.platform.messaging.outbox import Outbox
from bot.platform.services import Clock, IdentityServices, Services, utc_now
from bot.platform.settings import Settings
from bot.platform.storage import open_store
from bot.platform.storage.base import Store
from bot.platform.teams.adapter import CourierAdapter
from bot.platform.teams.connector import BotConnector
from bot.platform.teams.router import Router
from bot.platform.telemetry import Telemetry
from bot.platform.turns.dispatch import Dispatcher
from bot.platform.turns.middleware import default_middleware
from bot.platform.version import VERSION
from bot.platform.web.auth import setup_identity_routes
from bot.platform.web.console import setup_console

logger = logging.getLogger(__name__)

SERVICES_KEY = web.AppKey("services", Services)
ADAPTER_KEY = web.AppKey("adapter", CourierAdapter)
ROUTER_KEY = web.AppKey("router", Router)
FEATURES_KEY = web.AppKey("features", list[Feature])
HEALTH_KEY = web.AppKey("health", WorkerHealth)


def build_features(services: Services, classes: Sequence[FeatureClass]) -> tuple[Router, list[Feature]]:
    """Build each feature with the platform's services and let it register its routes."""
    router = Router()
    features = [cls(services) for cls in classes]
    for feature in features:
        feature.register(router)
    return router, features


def build_router(services: Services, classes: Sequence[FeatureClass]) -> Router:
    return build_features(services, classes)[0]


async def build_services(
    settings: Settings, classes: Sequence[FeatureClass], credential: AppCredential | None, *, clock: Clock = utc_now
) -> Services:
    """Open storage (the platform's and the features' migrations) and build the platform around it."""
    store = await open_store(settings.database_url, migrations=migration_folders(classes))
    telemetry = Telemetry(otlp_endpoint=settings.otel_exporter_otlp_endpoint)
    identity = build_identity(settings, store, credential, clock, telemetry=telemetry)
    if identity is not None and identity.delegated is not None and settings.encryption_key:
        await check_key(TokenCipher(settings.encryption_key), store)
    connector = BotConnector(
        credential,
        oauth_scope=settings.bot_oauth_scope,
        ssl_context=client_ssl_context(settings),
        timeout=settings.connector_timeout_seconds,
        telemetry=telemetry,
    )
    outbox = Outbox(
        settings,
        store,
        credential=credential,
        graph=identity.graph if identity else None,
        clock=clock,
        connector=connector,
        telemetry=telemetry,
    )
    telemetry.watch_queue(lambda: outbox.ledger.queue(clock()))
    jobs = JobScheduler(clock=clock, telemetry=telemetry)
    jobs.use_table(store.db)
    callers = build_callers(settings, store, credential, identity.graph if identity else None, clock)
    return Services(
        settings=settings,
        store=store,
        cards=CardRenderer(),
        clock=clock,
        proactive=outbox.proactive,
        identity=identity,
        events=EventBus(),
        jobs=jobs,
        outbox=outbox,
        callers=callers,
        telemetry=telemetry,
    )


def build_callers(
    settings: Settings, store: Store, credential: AppCredential | None, graph: GraphClient | None, clock: Clock
) -> CallerAuth:
    """The HTTP API's authentication: API keys; Entra tokens with an app id; console sessions with a public URL
    and an encryption key."""
    tokens = EntraTokenValidator(settings, ssl_context=client_ssl_context(settings)) if settings.app_id else None
    sessions = signin = None
    if tokens is not None and settings.public_url and settings.encryption_key:
        cipher = TokenCipher(settings.encryption_key)
        sessions = ConsoleSessions(store, cipher, clock)
        signin = ConsoleSignIn(settings, store, cipher, clock)
    return CallerAuth(settings, tokens=tokens, sessions=sessions, signin=signin, graph=graph, credential=credential)


async def create_app(
    settings: Settings,
    *,
    features: Sequence[FeatureClass],
    credential: AppCredential | None,
    clock: Clock = utc_now,
) -> web.Application:
    """Open storage, build the platform, register every feature, and return the ready aiohttp application."""
    services = await build_services(settings, features, credential, clock=clock)
    router, built = build_features(services, features)
    dispatcher = Dispatcher(router, default_middleware(services), services.cards, services.telemetry)
    adapter = CourierAdapter(settings, dispatcher.handle, credential)

    app = web.Application(client_max_size=1024 * 1024, middlewares=[security_headers])
    app[SERVICES_KEY] = services
    app[ADAPTER_KEY] = adapter
    app[ROUTER_KEY] = router
    app[FEATURES_KEY] = built
    app[HEALTH_KEY] = health = WorkerHealth()
    services.telemetry.watch_workers(lambda: {name: state.running for name, state in health.workers.items()})
    app.router.add_post("/api/messages", adapter.handle_messages)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    setup_identity_routes(app, services)
    setup_console(app, services)
    outbox = services.outbox
    assert outbox is not None
    app.cleanup_ctx.append(
        background("outbox", outbox.engine.run, outbox.coordinator.run, after=outbox.close, health=health)
    )
    app.cleanup_ctx.append(background("job scheduler", services.jobs.run, health=health))
    for feature in built:
        feature.routes(app)
        app.cleanup_ctx.append(background(feature.name, *feature.workers(), after=feature.stop, health=health))
    app.on_startup.insert(0, _start_features)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_store)
    return app


def build_identity(
    settings: Settings,
    store: Store,
    credential: AppCredential | None,
    clock: Clock = utc_now,
    *,
    telemetry: Telemetry | None = None,
) -> IdentityServices | None:
    if settings.anonymous:
        return None
    delegated = None
    consent = None
    if delegated_enabled(settings):
        if not settings.encryption_key:
            raise RuntimeError("COURIER_ENCRYPTION_KEY is required for delegated sign-in")
        delegated = DelegatedAuth(settings, store, TokenCipher(settings.encryption_key), clock)
        consent = AdminConsent(settings, store, clock, credential)
    graph = GraphClient(
        settings.graph_base_url,
        consent_url=lambda tenant: admin_consent_url(settings, tenant) if settings.public_url else None,
        ssl_context=client_ssl_context(settings),
        telemetry=telemetry,
    )
    return IdentityServices(credential=credential, delegated=delegated, consent=consent, graph=graph)


async def _healthz(request: web.Request) -> web.Response:
    """Alive: the process answers (200 even while storage is down, so an orchestrator does not restart a process
    that will recover on its own; ``/readyz`` is what turns unhealthy then)."""
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
    return web.json_response(body)


PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _harden(response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.content_type in {"text/html", "text/plain"}:
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer: no MIME sniffing, no referrer; HTML and text pages also a Content-Security-Policy."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _harden(exc)
        raise
    _harden(response)
    return response


async def _start_features(app: web.Application) -> None:
    for feature in app[FEATURES_KEY]:
        await feature.start()


async def _readyz(request: web.Request) -> web.Response:
    """Ready to serve: storage answers and every background worker runs (a crashed one is restarting)."""
    services, health = request.app[SERVICES_KEY], request.app[HEALTH_KEY]
    try:
        storage_ok = await services.store.ping()
    except Exception:
        logger.exception("storage ping failed")
        storage_ok = False
    ready = storage_ok and health.ready
    body = {"status": "ready" if ready else "unready", "storage": storage_ok, "workers": health.describe()}
    return web.json_response(body, status=200 if ready else 503)


def _loopback(request: web.Request) -> bool:
    """Asked from this machine itself: a loopback peer, and no proxy in between (a reverse proxy on this machine
    connects from loopback too, but says whom it forwards for)."""
    if any(name in request.headers for name in ("Forwarded", "X-Forwarded-For", "X-Real-IP")):
        return False
    try:
        return ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
    except ValueError:
        return False


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus text: from this machine, or with one of the notifications API's keys (401 without, 403 wrong)."""
    services = request.app[SERVICES_KEY]
    if not _loopback(request):
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return web.json_response(
                {"error": "an API key is required from outside this machine: Authorization: Bearer <key>"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = hashlib.sha256(presented.strip().encode("utf-8")).hexdigest()
        if not any(hmac.compare_digest(digest, known) for known in services.settings.api_key_hashes):
            return web.json_response({"error": "this key may not read metrics"}, status=403)
    await services.telemetry.refresh()
    return web.Response(text=services.telemetry.prometheus(), content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})  # fmt: skip


async def _drain(app: web.Application) -> None:
    adapter = app[ADAPTER_KEY]
    await adapter.drain(app[SERVICES_KEY].settings.shutdown_grace_seconds)


async def _close_store(app: web.Application) -> None:
    identity = app[SERVICES_KEY].identity
    if identity is not None and identity.graph is not None:
        await identity.graph.close()
    await app[SERVICES_KEY].store.close()
    logger.info("storage closed")
    await asyncio.to_thread(app[SERVICES_KEY].telemetry.shutdown)  # exports what is pending over OTLP


class CannotListen(Exception):
    """The HTTP server could not take its address (the port is in use, or not ours to take): one line for people."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        self.host, self.port = host, port
        if cause.errno == errno.EADDRINUSE:
            why = f"port {port} is already in use on {host} (another Courier, or the Playground?)"
        elif cause.errno == errno.EACCES:
            why = f"port {port} on {host} needs privileges this process does not have"
        else:
            why = f"cannot listen on {host}:{port} ({cause.strerror or cause})"
        super().__init__(f"{why}; set PORT (and HOST) to another address")


def catch_early_signals() -> threading.Event:
    """Until :func:`serve` has its own handlers, SIGINT and SIGTERM only set the returned event: a Ctrl-C during
    start-up (imports, building the event loop) must not raise KeyboardInterrupt half-way through constructing
    something (an event loop without its self-pipe prints a traceback at exit)."""
    early = threading.Event()

    def remember(signum: int, frame: object) -> None:
        early.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, remember)
    return early


async def serve(
    settings: Settings, make_app: Callable[[], Awaitable[web.Application]], *, early: threading.Event | None = None
) -> None:
    """Run the app until SIGINT or SIGTERM, then shut down within the grace period.

    The first signal starts a clean shutdown (in-flight turns finish, workers stop, storage closes). A second one
    during shutdown is logged and ignored instead of interrupting the cleanup half-way; a third forces the exit
    (claims left behind are released by the next start within seconds). A signal during start-up lets the start-up
    finish (it takes well under a second), then shuts down the same way, without listening."""
    stop = asyncio.Event()
    _on_signals(stop)
    if early is not None and early.is_set():  # a signal came before the handlers above were in place
        stop.set()
    app = await make_app()
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=settings.shutdown_grace_seconds)
    await runner.setup()
    try:
        if not stop.is_set():
            await _listen(runner, settings)
        await stop.wait()
        logger.info("stopping: finishing in-flight turns (at most %.0f s)", settings.shutdown_grace_seconds)
    finally:
        await runner.cleanup()  # the workers started with the app stop, storage closes


async def _listen(runner: web.AppRunner, settings: Settings) -> None:
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
    except OSError as exc:
        raise CannotListen(settings.host, settings.port, exc) from exc
    logger.info("Courier listening on http://%s:%d/api/messages", settings.host, settings.port)


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    received = 0

    def handle(signum: int) -> None:
        nonlocal received
        received += 1
        if received == 1:
            stop.set()
        elif received == 2:
            logger.warning(
                "%s again: already stopping cleanly; a third one forces the exit", signal.Signals(signum).name
            )
        else:
            logger.error("forced exit before the clean shutdown finished")
            raise SystemExit(1)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals outside the main thread
            loop.add_signal_handler(signum, handle, signum)
