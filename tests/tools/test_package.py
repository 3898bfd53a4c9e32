"""The Teams app package validates against the official manifest schema plus the checks the schema lacks."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import jsonschema
import pytest

from app import command_list
from bot.platform.settings import Settings
from bot.tools.packaging import BotCommand, PackagingError, build_package, check_package, read_manifest, render_manifest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "node_modules/@microsoft/app-manifest/build/json-schemas/teams/v1.22/MicrosoftTeams.schema.json"
SETTINGS = Settings(
    app_id="6f1c1a52-2b7e-4f3e-9a55-0c6f4b8c1d01",
    app_password="x",
    app_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    public_url="https://courier.contoso.com",
)


def _commands() -> list[BotCommand]:
    return [BotCommand(title=n, description=d, scopes=s) for n, d, s in command_list(SETTINGS)]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return build_package(SETTINGS, _commands(), tmp_path / "courier.zip", version="1.2.3")


def _schema_errors(manifest: dict[str, object]) -> list[str]:
    if not SCHEMA.is_file():
        pytest.skip(
            "node_modules/@microsoft/app-manifest is missing: run scripts/test (npm ci) to validate the manifest"
        )
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(manifest)]


def test_the_package_passes_the_official_schema(package: Path) -> None:
    assert _schema_errors(read_manifest(package)) == []


def test_the_package_passes_the_checks_the_schema_lacks(package: Path) -> None:
    assert check_package(package) == []


def test_files_sit_at_the_zip_root(package: Path) -> None:
    assert sorted(zipfile.ZipFile(package).namelist()) == ["color.png", "manifest.json", "outline.png"]


def test_ids_and_domain_come_from_settings(package: Path) -> None:
    manifest = read_manifest(package)
    assert manifest["id"] == SETTINGS.app_id
    assert manifest["bots"][0]["botId"] == SETTINGS.app_id
    assert manifest["validDomains"] == ["courier.contoso.com"]
    assert manifest["webApplicationInfo"]["resource"] == f"api://courier.contoso.com/{SETTINGS.app_id}"


def test_a_separate_teams_app_id_is_used_when_set(tmp_path: Path) -> None:
    teams_id = "0a0b0c0d-1111-2222-3333-444455556666"
    settings = Settings(
        **{
            **{f: getattr(SETTINGS, f) for f in ("app_id", "app_password", "app_tenant_id", "public_url")},
            "teams_app_id": teams_id,
        }
    )
    manifest = render_manifest(settings, _commands(), version="1.0.0")
    assert manifest["id"] == teams_id and manifest["bots"][0]["botId"] == SETTINGS.app_id


def test_the_bot_declares_every_scope_and_the_help_command(package: Path) -> None:
    bot = read_manifest(package)["bots"][0]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    titles = {c["title"] for lst in bot["commandLists"] for c in lst["commands"]}
    assert "help" in titles


def test_the_messaging_extension_has_query_and_action_commands(package: Path) -> None:
    commands = read_manifest(package)["composeExtensions"][0]["commands"]
    assert {c["type"] for c in commands} == {"query", "action"}


def test_resource_specific_permissions_are_declared(package: Path) -> None:
    names = {p["name"] for p in read_manifest(package)["authorization"]["permissions"]["resourceSpecific"]}
    assert names == {
        "ChannelMessage.Read.Group",
        "ChannelSettings.Read.Group",
        "TeamMember.Read.Group",
        "TeamSettings.Read.Group",
        "ChatMessageReadReceipt.Read.Chat",
        "ChatMessage.Read.Chat",
    }


def test_values_with_quotes_stay_valid_json(tmp_path: Path) -> None:
    settings = Settings(
        **{
            **{f: getattr(SETTINGS, f) for f in ("app_id", "app_password", "app_tenant_id", "public_url")},
            "app_name": 'Courier "β"',
        }
    )
    manifest = render_manifest(settings, [BotCommand('say "hi"', 'a "quoted" thing', ("personal",))], version="1.0.0")
    assert manifest["name"]["short"] == 'Courier "β"'


def test_anonymous_settings_cannot_be_packaged() -> None:
    with pytest.raises(PackagingError, match="MicrosoftAppId"):
        render_manifest(Settings(dangerously_allow_anonymous=True), [], version="1.0.0")


def test_a_missing_public_url_is_named() -> None:
    settings = Settings(app_id=SETTINGS.app_id, app_password="x", app_tenant_id=SETTINGS.app_tenant_id)
    with pytest.raises(PackagingError, match="COURIER_PUBLIC_URL"):
        render_manifest(settings, [], version="1.0.0")


# -- the extra checks catch what they should -------------------------------------------------------------


def _png(width: int, height: int, rgba: tuple[int, int, int, int]) -> bytes:
    raw = b"".join(b"\x00" + bytes(rgba) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _rewrite(package: Path, replace: dict[str, bytes]) -> Path:
    out = package.with_name("changed.zip")
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, replace.get(name, src.read(name)))
    return out


def test_a_wrong_icon_size_is_caught(package: Path) -> None:
    problems = check_package(_rewrite(package, {"color.png": _png(100, 100, (37, 99, 235, 255))}))
    assert any("color.png is 100x100" in p for p in problems)


def test_an_opaque_outline_is_caught(package: Path) -> None:
    problems = check_package(_rewrite(package, {"outline.png": _png(32, 32, (255, 255, 255, 255))}))
    assert any("transparent" in p for p in problems)


def test_a_coloured_outline_is_caught(package: Path) -> None:
    problems = check_package(_rewrite(package, {"outline.png": _png(32, 32, (255, 0, 0, 128))}))
    assert any("white only" in p for p in problems)


def test_an_unknown_rsc_permission_is_caught(package: Path) -> None:
    manifest = read_manifest(package)
    manifest["authorization"]["permissions"]["resourceSpecific"].append(
        {"name": "Everything.ReadWrite.All", "type": "Application"}
    )
    problems = check_package(_rewrite(package, {"manifest.json": json.dumps(manifest).encode()}))
    assert any("Everything.ReadWrite.All" in p for p in problems)


def test_a_non_guid_id_is_caught(package: Path) -> None:
    manifest = read_manifest(package)
    manifest["id"] = "courier"
    problems = check_package(_rewrite(package, {"manifest.json": json.dumps(manifest).encode()}))
    assert any("id is not a GUID" in p for p in problems)
