"""pytest fixtures that run the Microsoft emulators as real servers on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.connector import ConnectorEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState, install_delegated
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_chats import install_chats
from bot.sandbox.emulators.tls import TestCA

BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"


@pytest.fixture(scope="session")
def test_ca() -> Iterator[TestCA]:
    """A test CA that MSAL, requests and aiohttp in this process trust (REQUESTS_CA_BUNDLE, SSL_CERT_FILE)."""
    ca = TestCA()
    saved = {name: os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    os.environ["REQUESTS_CA_BUNDLE"] = str(ca.ca_bundle_path)
    os.environ["SSL_CERT_FILE"] = str(ca.ca_bundle_path)
    yield ca
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def bf_channel(test_ca: TestCA) -> Iterator[BotFrameworkChannelEmulator]:
    emulator = BotFrameworkChannelEmulator(ssl_context=test_ca.server_ssl_context())
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def entra_with_delegated(test_ca: TestCA) -> Iterator[tuple[EntraEmulator, DelegatedState]]:
    emulator = EntraEmulator(ssl_context=test_ca.server_ssl_context())
    delegated = install_delegated(emulator)
    emulator.start()
    yield emulator, delegated
    emulator.stop()


@pytest.fixture(scope="session")
def entra(entra_with_delegated: tuple[EntraEmulator, DelegatedState]) -> EntraEmulator:
    return entra_with_delegated[0]


@pytest.fixture
def entra_users(entra_with_delegated: tuple[EntraEmulator, DelegatedState]) -> Iterator[DelegatedState]:
    """The simulated people at Entra's sign-in and consent pages; reset after each test."""
    state = entra_with_delegated[1]
    yield state
    state.signed_in_user = None
    state.deny_consent = state.deny_admin_consent = state.reject_refresh = False
    state.access_token_lifetime = 3600


@pytest.fixture
def connector(entra: EntraEmulator, test_ca: TestCA) -> Iterator[ConnectorEmulator]:
    emulator = ConnectorEmulator(
        token_verifier=lambda token: entra.key.verify(token, audience=BOT_FRAMEWORK_RESOURCE),
        ssl_context=test_ca.server_ssl_context(),
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def graph(entra: EntraEmulator, test_ca: TestCA) -> Iterator[GraphEmulator]:
    emulator = GraphEmulator(entra, test_ca.server_ssl_context())
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def open_connector() -> Iterator[ConnectorEmulator]:
    """A connector emulator that takes any caller (no tokens) and paces nothing: for engines tested without auth."""
    emulator = ConnectorEmulator(require_auth=False, enforce_limits=False)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def chats_graph(entra: EntraEmulator, test_ca: TestCA, open_connector: ConnectorEmulator) -> Iterator[GraphEmulator]:
    """Graph whose ``/chats/{id}/messages`` shows what ``open_connector`` really received in each conversation."""
    emulator = GraphEmulator(entra, test_ca.server_ssl_context())
    install_chats(emulator, open_connector)
    emulator.start()
    yield emulator
    emulator.stop()
