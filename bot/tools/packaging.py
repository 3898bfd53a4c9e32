"""The Teams app package: ``manifest/manifest.json.j2`` filled from settings, plus the two icons, zipped at root.

``check_package`` verifies what the official schema cannot: icon sizes and transparency, resource-specific
permission names, GUIDs, files at the zip's root, the bot's domain in ``validDomains``, command list sizes, and the
activity type Courier sends to the activity feed (declared, with the template parameters Courier fills).
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from bot.platform.messaging.feed import ACTIVITY_TYPE, TEMPLATE_PARAMETERS, TEMPLATE_TEXT
from bot.platform.settings import Settings

MANIFEST_DIR = Path(__file__).resolve().parents[2] / "manifest"
KNOWN_RSC_PERMISSIONS = frozenset(
    {
        "ChannelMessage.Read.Group",
        "ChannelMessage.Send.Group",
        "ChannelSettings.Read.Group",
        "ChannelSettings.ReadWrite.Group",
        "ChannelMeeting.ReadBasic.Group",
        "Member.Read.Group",
        "Owner.Read.Group",
        "TeamMember.Read.Group",
        "TeamSettings.Read.Group",
        "TeamSettings.ReadWrite.Group",
        "TeamsActivity.Send.Group",
        "TeamsAppInstallation.Read.Group",
        "TeamsTab.Read.Group",
        "TeamsTab.Create.Group",
        "ChatMessage.Read.Chat",
        "ChatMessageReadReceipt.Read.Chat",
        "ChatSettings.Read.Chat",
        "ChatMember.Read.Chat",
        "OnlineMeeting.ReadBasic.Chat",
    }
)
# The activity-feed notifications Courier sends (important notifications): Teams refuses an undeclared type.
ACTIVITY_TYPES = [
    {"type": ACTIVITY_TYPE, "description": "An important announcement sent with Courier", "templateText": TEMPLATE_TEXT}
]
ICON_SIZES = {"color.png": (192, 192), "outline.png": (32, 32)}
MAX_COMMANDS_PER_LIST = 10
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_SCOPES = ("personal", "team", "groupChat")


class PackagingError(ValueError):
    """The package cannot be built from these settings; the message names the setting to fix."""


@dataclass(frozen=True, slots=True)
class BotCommand:
    title: str
    description: str
    scopes: tuple[str, ...]


def _command_lists(commands: Sequence[BotCommand]) -> list[dict[str, Any]]:
    lists = []
    for scope in _SCOPES:
        wanted = [c for c in commands if scope in c.scopes][:MAX_COMMANDS_PER_LIST]
        if wanted:
            lists.append(
                {
                    "scopes": [scope],
                    "commands": [{"title": c.title[:32], "description": c.description[:128]} for c in wanted],
                }
            )
    return lists


def render_manifest(settings: Settings, commands: Sequence[BotCommand], *, version: str) -> dict[str, Any]:
    if not settings.app_id:
        raise PackagingError("setting MicrosoftAppId is missing: the package needs the bot's Entra app id")
    if not settings.public_url:
        raise PackagingError("setting COURIER_PUBLIC_URL is missing: the package needs the bot's public HTTPS URL")
    host = urlsplit(settings.public_url).hostname or ""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(MANIFEST_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - JSON output, every value through tojson
    )
    env.filters["tojson"] = json.dumps
    text = env.get_template("manifest.json.j2").render(
        version=version,
        teams_app_id=settings.manifest_app_id,
        bot_id=settings.app_id,
        app_name=settings.app_name,
        public_url=settings.public_url.rstrip("/"),
        host=host,
        command_lists=_command_lists(commands),
        activity_types=ACTIVITY_TYPES,
    )
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def build_package(settings: Settings, commands: Sequence[BotCommand], out: Path, *, version: str) -> Path:
    manifest = render_manifest(settings, commands, version=version)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in ICON_SIZES:
            archive.write(MANIFEST_DIR / icon, icon)
    return out


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise PackagingError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _png_rgba_pixels(data: bytes) -> list[tuple[int, int, int, int]] | None:
    """Decode an 8-bit RGBA, non-interlaced PNG (what Courier ships); None for other encodings."""
    width, height = png_size(data)
    bit_depth, color_type, _, _, interlace = struct.unpack(">BBBBB", data[24:29])
    if bit_depth != 8 or color_type != 6 or interlace != 0:
        return None
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunk_type = data[pos + 4 : pos + 8]
        if chunk_type == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 4
    pixels: list[tuple[int, int, int, int]] = []
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - 4] if i >= 4 else 0
            up = previous[i]
            upper_left = previous[i - 4] if i >= 4 else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 0xFF
        pixels.extend(tuple(line[i : i + 4]) for i in range(0, stride, 4))  # type: ignore[misc]
        previous = line
    return pixels


def check_package(zip_path: Path) -> list[str]:
    """Problems the manifest schema does not catch; an empty list means the package is sound."""
    problems: list[str] = []
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        for name in names:
            if "/" in name:
                problems.append(f"{name} is not at the zip's root")
        if "manifest.json" not in names:
            return [*problems, "manifest.json is missing"]
        manifest = json.loads(archive.read("manifest.json"))
        for key, (width, height) in ICON_SIZES.items():
            icon_name = manifest.get("icons", {}).get(key.removesuffix(".png"), key)
            if icon_name not in names:
                problems.append(f"icon {icon_name} is missing")
                continue
            data = archive.read(icon_name)
            size = png_size(data)
            if size != (width, height):
                problems.append(f"{icon_name} is {size[0]}x{size[1]}; Teams needs {width}x{height}")
            if key == "outline.png":
                problems.extend(_outline_problems(icon_name, data))
    for label, value in (
        ("id", manifest.get("id")),
        ("webApplicationInfo.id", manifest.get("webApplicationInfo", {}).get("id")),
        *((f"bots[{i}].botId", b.get("botId")) for i, b in enumerate(manifest.get("bots", []))),
        *(
            (f"composeExtensions[{i}].botId", c.get("botId"))
            for i, c in enumerate(manifest.get("composeExtensions", []))
        ),
    ):
        if not isinstance(value, str) or not _GUID.match(value):
            problems.append(f"{label} is not a GUID: {value!r}")
    for permission in manifest.get("authorization", {}).get("permissions", {}).get("resourceSpecific", []):
        if permission.get("name") not in KNOWN_RSC_PERMISSIONS:
            problems.append(f"unknown resource-specific permission {permission.get('name')!r}")
    problems.extend(_activity_problems(manifest))
    host = urlsplit(manifest.get("developer", {}).get("websiteUrl", "")).hostname
    if host and host not in manifest.get("validDomains", []):
        problems.append(f"validDomains does not list the bot's host {host}")
    for bot in manifest.get("bots", []):
        for command_list in bot.get("commandLists", []):
            if len(command_list.get("commands", [])) > MAX_COMMANDS_PER_LIST:
                problems.append(f"a command list for {command_list.get('scopes')} has more than 10 commands")
    return problems


def _activity_problems(manifest: dict[str, Any]) -> list[str]:
    declared = {a.get("type"): a for a in manifest.get("activities", {}).get("activityTypes", [])}
    ours = declared.get(ACTIVITY_TYPE)
    if ours is None:
        return [f"activities.activityTypes does not declare {ACTIVITY_TYPE!r}, which important notifications send"]
    placeholders = set(re.findall(r"\{(\w+)\}", str(ours.get("templateText", "")))) - {"actor"}
    unfilled = placeholders - set(TEMPLATE_PARAMETERS)
    return [f"the {ACTIVITY_TYPE} template uses {p!r}, which Courier does not send" for p in sorted(unfilled)]


def _outline_problems(name: str, data: bytes) -> list[str]:
    pixels = _png_rgba_pixels(data)
    if pixels is None:
        return [f"{name} must be an 8-bit RGBA PNG (white on transparent)"]
    problems = []
    if not any(a == 0 for *_, a in pixels):
        problems.append(f"{name} has no transparent background")
    if any(a > 0 and (r, g, b) != (255, 255, 255) for r, g, b, a in pixels):
        problems.append(f"{name} must be white only (plus transparency)")
    return problems


def read_manifest(zip_path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(zip_path) as archive:
        manifest: dict[str, Any] = json.loads(archive.read("manifest.json"))
        return manifest


__all__ = ["BotCommand", "PackagingError", "build_package", "check_package", "read_manifest", "render_manifest"]
