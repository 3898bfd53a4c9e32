"""COURIER_DEFAULT_TIME_ZONE: the zone of recipients whose own zone Courier does not know."""

from __future__ import annotations

import pytest

from bot.platform.settings import SettingsError, load_settings

GOOD = {
    "MicrosoftAppId": "00000000-0000-0000-0000-000000000001",
    "MicrosoftAppPassword": "s",
    "MicrosoftAppTenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
}


def test_the_default_zone_is_utc() -> None:
    assert load_settings(GOOD, dotenv=None).default_time_zone == "UTC"


def test_an_iana_zone_is_accepted() -> None:
    settings = load_settings({**GOOD, "COURIER_DEFAULT_TIME_ZONE": "Europe/Paris"}, dotenv=None)
    assert settings.default_time_zone == "Europe/Paris"


@pytest.mark.parametrize("value", ["Mars/Olympus", "CET+1", "../etc/passwd"])
def test_an_unknown_zone_stops_start_up_naming_the_setting(value: str) -> None:
    with pytest.raises(SettingsError, match="COURIER_DEFAULT_TIME_ZONE"):
        load_settings({**GOOD, "COURIER_DEFAULT_TIME_ZONE": value}, dotenv=None)
