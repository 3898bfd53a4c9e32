"""The fuzz suite's fixtures: the module's app (see :mod:`tests.fuzz.rig`; each module picks its database) and the
catcher of errors Courier logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from bot.sandbox.emulators.botframework_login import BotFrameworkChannelEmulator
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.tls import TestCA
from tests.fuzz.properties import Errors
from tests.fuzz.rig import FuzzApp, fuzz_app
from tests.support.databases import drop_schema, postgres_schema_url

# No deadline (a request crosses threads and the network); the module-scoped app is shared on purpose. Each test
# sets its own number of examples.
settings.register_profile(
    "courier", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
settings.load_profile("courier")


@pytest.fixture(scope="module")
def fuzz_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The module's ``DATABASE`` ("sqlite" or "postgresql", a schema of its own)."""
    if getattr(request.module, "DATABASE", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'courier.db'}"
        return
    url, schema = asyncio.run(postgres_schema_url())
    yield url
    asyncio.run(drop_schema(schema))


@pytest.fixture(scope="module")
def app(
    fuzz_database: str,
    tmp_path_factory: pytest.TempPathFactory,
    entra: EntraEmulator,
    bf_channel: BotFrameworkChannelEmulator,
    test_ca: TestCA,
) -> Iterator[FuzzApp]:
    with fuzz_app(tmp_path_factory.mktemp("app"), fuzz_database, entra, bf_channel, test_ca) as running:
        yield running


@pytest.fixture(scope="module")
def errors() -> Iterator[Errors]:
    handler = Errors()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
