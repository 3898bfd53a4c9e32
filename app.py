"""Courier's entry point: wiring only.

python app.py                       run the bot (HOST/PORT, POST /api/messages, GET /healthz)
python app.py cards --out DIR       render every card with sample data to PNG (headless Chromium), in English
                                    and German, light and dark (--language ja --theme dark for one pair)
python app.py package --out FILE    build the Teams app package (manifest + icons) for these settings
python app.py cert new --out DIR    make a certificate for the app registration (app-only auth)
python app.py doctor                check settings, storage, endpoints, tokens and permissions
python app.py sandbox               a local Microsoft 365 (Entra, Graph, Bot Connector) to run Courier against
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from bot.features.account import Account
from bot.features.help import Help
from bot.features.insights import Insights
from bot.features.installation import Installation
from bot.features.meetings import Meetings
from bot.features.outreach import Outreach
from bot.features.reminders import Reminders
from bot.features.rooms import Rooms
from bot.platform.feature import FeatureClass, migration_folders
from bot.platform.log import configure_logging
from bot.platform.server import create_app
from bot.platform.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("courier")

# The one list of features: the server builds, registers, runs and stops exactly these, in this order.
FEATURES: tuple[FeatureClass, ...] = (Installation, Help, Account, Outreach, Reminders, Meetings, Insights, Rooms)
MIGRATIONS = migration_folders(FEATURES)


def _settings() -> Settings:
    try:
        return load_settings(os.environ)
    except SettingsError as exc:
        print(f"courier: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _warn_unsafe(settings: Settings) -> None:
    if settings.dangerously_skip_inbound_auth:
        logger.warning(
            "COURIER_DANGEROUSLY_SKIP_INBOUND_AUTH is on: inbound requests are accepted without a Bot Framework "
            "token although an app id is set. Use this only with a local emulator, never in production."
        )
    if settings.dangerously_allow_anonymous:
        logger.warning(
            "COURIER_DANGEROUSLY_ALLOW_ANONYMOUS is on: inbound requests are not authenticated when no app id "
            "is set. Use this only with a local emulator, never in production."
        )


def run(settings: Settings) -> None:
    from bot.platform.server import CannotListen, catch_early_signals, serve

    early = catch_early_signals()
    from bot.platform.identity.credentials import credential_from_settings
    from bot.platform.identity.crypto import WrongEncryptionKey

    credential = credential_from_settings(settings)

    async def factory() -> web.Application:
        return await create_app(settings, features=FEATURES, credential=credential)

    try:
        asyncio.run(serve(settings, factory, early=early))
    except (WrongEncryptionKey, CannotListen) as exc:
        print(f"courier: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        # Ctrl-C before the signal handlers were in place (during start-up): asyncio.run has cancelled and
        # cleaned up the start-up already; stop without a traceback.
        logger.info("interrupted during start-up")
    logger.info("Courier stopped")


def command_list(settings: Settings) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, description, scopes) of every visible command, without opening storage."""
    from bot.platform.cards import CardRenderer
    from bot.platform.server import build_router
    from bot.platform.services import Services
    from bot.platform.storage import SqlStore
    from bot.platform.storage.sqlite import SqliteDatabase

    unopened = SqlStore(SqliteDatabase(":memory:"))  # registration never touches storage: it is never opened
    services = Services(settings=settings, store=unopened, cards=CardRenderer())
    router = build_router(services, FEATURES)
    return [(c.name, c.description, c.scopes) for c in router.commands()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="Courier, a Microsoft Teams bot.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    cards = sub.add_parser("cards", help="render every card to PNG")
    cards.add_argument("--out", type=Path, default=Path("build/cards"))
    cards.add_argument("--theme", choices=("light", "dark"), action="append", help="light and dark when not given")
    cards.add_argument(
        "--language", action="append", help="a catalogue (de, fr, es, ja, pt_BR); English and German when not given"
    )
    package = sub.add_parser("package", help="build the Teams app package")
    package.add_argument("--out", type=Path, default=Path("build/courier.zip"))
    cert = sub.add_parser("cert", help="certificates for app-only auth")
    cert_sub = cert.add_subparsers(dest="cert_command", required=True)
    cert_new = cert_sub.add_parser("new", help="generate a key pair and a self-signed certificate")
    cert_new.add_argument("--out", type=Path, required=True)
    cert_new.add_argument("--name", default="Courier")
    sub.add_parser("doctor", help="check the configuration end to end")
    sandbox = sub.add_parser("sandbox", help="a local Microsoft 365 tenant (Entra, Graph, Bot Connector)")
    from bot.sandbox.cli import add_arguments as sandbox_arguments

    sandbox_arguments(sandbox)
    args = parser.parse_args(argv)

    command = args.command or "run"
    if command == "sandbox":
        from bot.sandbox.cli import run as run_sandbox

        return run_sandbox(args)
    if command == "cert":
        from bot.platform.identity.certs import describe_upload, generate_certificate

        files = generate_certificate(args.out, common_name=args.name)
        print(describe_upload(files))
        return 0
    if command == "cards":
        from bot.platform.cards import CardRenderer
        from bot.tools.card_images import render_gallery

        configure_logging("INFO", "text")
        languages, themes = tuple(args.language or ("en", "de")), tuple(args.theme or ("light", "dark"))
        paths = asyncio.run(render_gallery(CardRenderer(), args.out, languages=languages, themes=themes))
        for path in paths:
            print(path)
        return 0

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    _warn_unsafe(settings)
    if command == "package":
        from bot.platform.version import VERSION
        from bot.tools.packaging import BotCommand, PackagingError, build_package

        commands = [BotCommand(title=n, description=d, scopes=s) for n, d, s in command_list(settings)]
        try:
            path = build_package(settings, commands, args.out, version=VERSION)
        except PackagingError as exc:
            print(f"courier: {exc}", file=sys.stderr)
            return 2
        print(path)
        return 0
    if command == "doctor":
        from bot.tools.doctor import run_doctor

        report = asyncio.run(run_doctor(settings, migrations=MIGRATIONS))
        print(report.render())
        return 0 if report.ok else 1
    run(settings)
    return 0


def _stop_quietly(signum: int, frame: object) -> None:
    """Ctrl-C before the server's own signal handling is in place (start-up, the CLI commands): leave without a
    KeyboardInterrupt traceback; what was started is cleaned up on the way out."""
    raise SystemExit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _stop_quietly)
    raise SystemExit(main())
