"""The package declares the activity type important notifications send to the activity feed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from bot.platform.messaging.feed import ACTIVITY_TYPE, TEMPLATE_PARAMETERS
from bot.platform.settings import Settings
from bot.tools.packaging import build_package, check_package, read_manifest

SETTINGS = Settings(
    app_id="6f1c1a52-2b7e-4f3e-9a55-0c6f4b8c1d01",
    app_password="x",
    app_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    public_url="https://courier.contoso.com",
)


def test_the_manifest_declares_the_important_announcement_activity(tmp_path: Path) -> None:
    manifest = read_manifest(build_package(SETTINGS, [], tmp_path / "courier.zip", version="1.0.0"))
    declared = {a["type"]: a for a in manifest["activities"]["activityTypes"]}
    assert ACTIVITY_TYPE in declared
    assert all(f"{{{p}}}" in declared[ACTIVITY_TYPE]["templateText"] for p in TEMPLATE_PARAMETERS)


def test_the_manifest_keeps_the_web_application_info_the_activity_feed_needs(tmp_path: Path) -> None:
    manifest = read_manifest(build_package(SETTINGS, [], tmp_path / "courier.zip", version="1.0.0"))
    assert manifest["webApplicationInfo"]["id"] == SETTINGS.app_id


def test_a_package_without_the_activity_type_is_reported(tmp_path: Path) -> None:
    good = build_package(SETTINGS, [], tmp_path / "courier.zip", version="1.0.0")
    manifest = read_manifest(good)
    manifest["activities"] = {"activityTypes": []}
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for name in source.namelist():
            data = json.dumps(manifest).encode() if name == "manifest.json" else source.read(name)
            target.writestr(name, data)
    assert check_package(bad) == [
        f"activities.activityTypes does not declare {ACTIVITY_TYPE!r}, which important notifications send"
    ]
