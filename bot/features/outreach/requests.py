"""Validating ``POST /api/notifications``: every problem names the field; nothing is queued unless all is well."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema

from bot.features.outreach.cards import with_acknowledge
from bot.platform.cards import MAX_CARD_BYTES, CardError, CardRenderer
from bot.platform.http import nested_within

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NOTIFICATION_TEMPLATES = frozenset({"announcement"})  # each renders its Acknowledge button given ``acknowledge``
MAX_RECIPIENTS_PER_REQUEST = 10_000
MAX_KEY_LENGTH = 200
MAX_CARD_DEPTH = 40  # far more than any card Teams renders well; the schema check recurses once per level
EARLIEST_SEND_YEAR, LATEST_SEND_YEAR = 2000, 2100  # a past sendAt means now; these bound what is plausible at all


class InvalidRequest(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class NotificationRequest:
    idempotency_key: str
    tenant_id: str
    card: dict[str, Any]  # with its Acknowledge button when ack_required
    recipients: list[tuple[str, dict[str, Any]]]  # (recipient key, recipient)
    send_at: datetime | None
    ack_required: bool
    local_at: datetime | None = None  # sendAt {localTime, date}: this wall-clock time in each recipient's zone
    important: bool = False  # also an activity-feed notification


@cache
def _card_schema_validator() -> Any:
    schema = json.loads((files("adaptive_cards") / "schemas" / "schema-1.5.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def validate_card(card: Any, field: str = "card") -> dict[str, Any]:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        raise InvalidRequest(field, "must be an Adaptive Card object with type AdaptiveCard")
    if not nested_within(card, MAX_CARD_DEPTH):
        raise InvalidRequest(field, f"nests deeper than {MAX_CARD_DEPTH} levels of objects and lists")
    version = str(card.get("version", ""))
    if version not in {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}:
        raise InvalidRequest(f"{field}.version", "must be 1.0 to 1.5 (Teams renders up to 1.5 in bots)")
    size = len(json.dumps(card, separators=(",", ":")).encode("utf-8"))
    if size > MAX_CARD_BYTES:
        raise InvalidRequest(field, f"is {size} bytes; Teams accepts about {MAX_CARD_BYTES}")
    unsafe = unsafe_link(card)
    if unsafe is not None:
        raise InvalidRequest(field, f"links must be https:, mailto: or tel: ({unsafe})")
    error = _deepest(list(_card_schema_validator().iter_errors(card)))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise InvalidRequest(
            f"{field}.{where}" if where else field, f"fails the Adaptive Card schema: {error.message[:200]}"
        )
    return card


def _deepest(errors: list[Any]) -> Any:
    """The most telling schema error. The schema tries every element type (anyOf), so the branches whose ``type``
    does not match are noise; of the rest, the deepest wins, and a missing required property beats other kinds."""
    leaves: list[Any] = []
    stack = list(errors)
    while stack:
        error = stack.pop()
        if error.context:
            stack.extend(error.context)
        else:
            leaves.append(error)
    telling = [e for e in leaves if not (e.absolute_path and e.absolute_path[-1] == "type")] or leaves
    if not telling:
        return None
    return max(telling, key=lambda e: (len(e.absolute_path), e.validator == "required"))


def _everyone(index: int, item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``{"everyone": true, "excludeGuests": true}``: every enabled account of the tenant, guests left out unless
    ``excludeGuests`` is false."""
    field = f"recipients[{index}]"
    if item["everyone"] is not True:
        raise InvalidRequest(f"{field}.everyone", "must be true (to reach fewer people, name them instead)")
    unknown = sorted(set(item) - {"everyone", "excludeGuests"})
    if unknown:
        raise InvalidRequest(f"{field}.{unknown[0]}", "is not an option of everyone (only excludeGuests is)")
    exclude = item.get("excludeGuests", True)
    if not isinstance(exclude, bool):
        raise InvalidRequest(f"{field}.excludeGuests", "must be true or false")
    return "everyone", {"everyone": True, "excludeGuests": exclude}


def _recipient(index: int, item: Any) -> tuple[str, dict[str, Any]]:
    field = f"recipients[{index}]"
    if isinstance(item, dict) and "everyone" in item:
        return _everyone(index, item)
    if not isinstance(item, dict) or len(item) != 1:
        raise InvalidRequest(
            field,
            "must be an object with exactly one of userId, upn, email, conversationId, channel, team, groupId "
            "(or everyone)",
        )
    kind, value = next(iter(item.items()))
    if kind == "userId":
        if not isinstance(value, str) or not _GUID.match(value):
            raise InvalidRequest(f"{field}.userId", "must be the user's Entra object id (a GUID)")
        return f"user:{value.lower()}", {"userId": value.lower()}
    if kind in {"upn", "email"}:
        if not isinstance(value, str) or not _EMAIL.match(value):
            raise InvalidRequest(f"{field}.{kind}", "must look like name@domain")
        return f"upn:{value.lower()}", {"upn": value.lower()}
    if kind == "conversationId":
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f"{field}.conversationId", "must be a non-empty conversation id")
        return f"conversation:{value}", {"conversationId": value}
    if kind == "channel":
        if not isinstance(value, dict) or not all(
            isinstance(value.get(k), str) and value[k] for k in ("teamId", "channelId")
        ):
            raise InvalidRequest(f"{field}.channel", "must be {teamId, channelId}")
        return f"channel:{value['teamId']}/{value['channelId']}", {
            "channel": {"teamId": value["teamId"], "channelId": value["channelId"]}
        }
    if kind == "team":
        if not isinstance(value, str) or not value.startswith("19:") or len(value) > 300:
            raise InvalidRequest(f"{field}.team", "must be a team id (19:...@thread.tacv2), as Teams gives it")
        return f"team:{value}", {"team": value}
    if kind == "groupId":
        if not isinstance(value, str) or not _GUID.match(value):
            raise InvalidRequest(f"{field}.groupId", "must be the Entra group's object id (a GUID)")
        return f"group:{value.lower()}", {"groupId": value.lower()}
    raise InvalidRequest(field, f"unknown recipient kind {kind!r}")


def _card_of(body: dict[str, Any], cards: CardRenderer, acknowledge: str | None) -> dict[str, Any]:
    """The notification's card; ``acknowledge`` (its id) when it asks for acknowledgements."""
    if "card" in body and "template" in body:
        raise InvalidRequest("card", "give either card or template + data, not both")
    if "card" in body:
        card = validate_card(body["card"])
        return with_acknowledge(card, acknowledge) if acknowledge else card
    if "template" in body:
        template = body["template"]
        if not isinstance(template, str) or template not in NOTIFICATION_TEMPLATES:
            raise InvalidRequest(
                "template", f"unknown template; available: {', '.join(sorted(NOTIFICATION_TEMPLATES))}"
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise InvalidRequest("data", "must be an object with the template's fields")
        try:
            return validate_card(cards.render(template, {**data, "acknowledge": acknowledge}), "data")
        except CardError as exc:
            raise InvalidRequest("data", str(exc)) from exc
    raise InvalidRequest("card", "give a card, or a template with data")


def _send_at(body: dict[str, Any]) -> datetime | None:
    send_at = None
    if body.get("sendAt") is not None:
        raw = body["sendAt"]
        try:
            send_at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest("sendAt", "must be an ISO-8601 date-time with a time zone") from None
        if send_at.tzinfo is None:
            raise InvalidRequest("sendAt", "must include a time zone (e.g. 2026-12-01T09:00:00+01:00)")
        if not EARLIEST_SEND_YEAR <= send_at.year <= LATEST_SEND_YEAR:
            raise InvalidRequest("sendAt", f"must be a date between {EARLIEST_SEND_YEAR} and {LATEST_SEND_YEAR}")
        send_at = send_at.astimezone(UTC)
    return send_at


LOCAL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
LOCAL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _local_time(body: dict[str, Any]) -> datetime | None:
    """``"sendAt": {"localTime": "09:00", "date": "2026-12-07"}``: that wall-clock time in each recipient's zone."""
    raw = body.get("sendAt")
    if not isinstance(raw, dict):
        return None
    shape = 'is either an ISO-8601 date-time with a zone, or {"localTime": "09:00", "date": "2026-12-07"}'
    unknown = sorted(set(raw) - {"localTime", "date"})
    if unknown:
        raise InvalidRequest(f"sendAt.{unknown[0]}", f"is not part of sendAt, which {shape}")
    local, day = raw.get("localTime"), raw.get("date")
    if not isinstance(local, str) or not LOCAL_TIME.match(local):
        raise InvalidRequest("sendAt.localTime", "must be a wall-clock time HH:MM (00:00 to 23:59), without a zone")
    if not isinstance(day, str) or not LOCAL_DATE.match(day):
        raise InvalidRequest("sendAt.date", "must be a date YYYY-MM-DD, without a time (the time is localTime)")
    try:
        wall = datetime.fromisoformat(f"{day}T{local}")
    except ValueError:
        raise InvalidRequest("sendAt.date", f"is not a date on the calendar: {day}") from None
    if not 2000 <= wall.year <= 2100:
        raise InvalidRequest("sendAt.date", "must be a year between 2000 and 2100")
    return wall


def _important(body: dict[str, Any]) -> bool:
    important = body.get("important", False)
    if not isinstance(important, bool):
        raise InvalidRequest("important", "must be true or false")
    return important


def _check_audience(recipients: list[Any]) -> None:
    everyone = [n for n, item in enumerate(recipients) if isinstance(item, dict) and "everyone" in item]
    if len(everyone) > 1:
        raise InvalidRequest(f"recipients[{everyone[1]}]", "everyone can be named once")


def parse_notification(
    body: Any, *, cards: CardRenderer, default_tenant: str, allowed_tenants: frozenset[str], notification_id: str
) -> NotificationRequest:
    """The request, validated; its card answers ``notification_id`` when it asks for acknowledgements."""
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a JSON object")
    key = body.get("idempotencyKey")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest("idempotencyKey", f"is required: a string of 1 to {MAX_KEY_LENGTH} characters")
    tenant = body.get("tenantId")
    if tenant is None:
        tenant = default_tenant  # may be "" (no MicrosoftAppTenantId): the API then takes the conversations' tenant
    elif not isinstance(tenant, str) or not _GUID.match(tenant):
        raise InvalidRequest("tenantId", "must be a tenant id (GUID)")
    tenant = tenant.lower()
    if tenant and allowed_tenants and tenant not in allowed_tenants:
        raise InvalidRequest("tenantId", "is not one of the tenants Courier serves")
    recipients_in = body.get("recipients")
    if not isinstance(recipients_in, list) or not recipients_in:
        raise InvalidRequest("recipients", "must be a non-empty list")
    if len(recipients_in) > MAX_RECIPIENTS_PER_REQUEST:
        raise InvalidRequest("recipients", f"holds more than {MAX_RECIPIENTS_PER_REQUEST}; split the request")
    _check_audience(recipients_in)
    seen: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(recipients_in):
        key_, recipient = _recipient(index, item)
        seen.setdefault(key_, recipient)
    ack = body.get("ackRequired", False)
    card = _card_of(body, cards, notification_id if ack is True else None)
    local_at = _local_time(body)
    send_at = None if local_at is not None else _send_at(body)
    important = _important(body)
    if not isinstance(ack, bool):
        raise InvalidRequest("ackRequired", "must be true or false")
    return NotificationRequest(
        idempotency_key=key.strip(),
        tenant_id=tenant,
        card=card,
        recipients=list(seen.items()),
        send_at=send_at,
        ack_required=ack,
        local_at=local_at,
        important=important,
    )


SAFE_SCHEMES = ("https:", "mailto:", "tel:")
_LINK_KEYS = frozenset({"url", "iconUrl", "backgroundImage", "fallbackUrl"})


def unsafe_link(card: Any) -> str | None:
    """The first link in ``card`` Teams users could be sent to that is not https:, mailto: or tel: (an image may also
    be a ``data:image/`` URI), or None. Walked without recursion."""
    stack: list[tuple[Any, bool]] = [(card, False)]
    while stack:
        item, in_open_url = stack.pop()
        if isinstance(item, list):
            stack.extend((child, False) for child in item)
            continue
        if not isinstance(item, dict):
            continue
        opens = item.get("type") == "Action.OpenUrl"
        for key, value in item.items():
            if key in _LINK_KEYS and isinstance(value, str) and not _safe(value, image=not (opens or in_open_url)):
                return value[:80]
            if isinstance(value, dict | list):
                stack.append((value, opens))
    return None


def _safe(link: str, *, image: bool) -> bool:
    lowered = link.strip().lower()
    return lowered.startswith(SAFE_SCHEMES) or (image and lowered.startswith("data:image/"))


RECALL_MODES = frozenset({"delete", "replace"})


def parse_edit(body: Any, *, cards: CardRenderer, notification_id: str, ack_required: bool) -> dict[str, Any]:
    """``PATCH /api/notifications/{id}``: the new content, validated exactly as when it was created (a ``card``, or a
    ``template`` with ``data``); it keeps the Acknowledge button when the notification asks for acknowledgements."""
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a JSON object")
    unknown = sorted(set(body) - {"card", "template", "data"})
    if unknown:
        raise InvalidRequest(unknown[0], "cannot be changed after sending; give card, or template + data")
    return _card_of(body, cards, notification_id if ack_required else None)


def parse_recall(body: Any) -> str:
    """``POST /api/notifications/{id}/recall``: an empty body or ``{"mode": "delete" | "replace"}``."""
    if body is None:
        return "delete"
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a JSON object")
    mode = body.get("mode", "delete")
    if mode not in RECALL_MODES:
        raise InvalidRequest("mode", "must be delete (remove every copy) or replace (a short 'withdrawn' card)")
    unknown = sorted(set(body) - {"mode"})
    if unknown:
        raise InvalidRequest(unknown[0], "is not a recall option; the only one is mode")
    return str(mode)
