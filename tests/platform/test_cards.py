"""Every card the bot can send renders, fits Teams' limit, and passes the official schema and JS renderer."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.platform.cards import MAX_CARD_BYTES, CardError, CardRenderer, CardTooLarge, UnknownCard

ROOT = Path(__file__).resolve().parents[2]
RENDERER = CardRenderer()
NAMES = RENDERER.names()


@cache
def schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((files("adaptive_cards") / "schemas" / "schema-1.5.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


def _actions(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            found.append(node)
        for value in node.values():
            found.extend(_actions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_actions(item))
    return found


def test_there_are_cards() -> None:
    assert {"welcome", "help", "unknown_command", "error", "tenant_not_allowed"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_card_has_sample_data(name: str) -> None:
    assert (ROOT / "cards" / f"{name}.sample.json").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_every_card_passes_the_official_schema(name: str) -> None:
    card = RENDERER.render(name, RENDERER.sample(name))
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    errors = sorted(schema_validator().iter_errors(card), key=str)
    assert errors == [], "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("name", NAMES)
def test_every_execute_action_has_a_verb_matching_its_data(name: str) -> None:
    card = RENDERER.render(name, RENDERER.sample(name))
    for action in _actions(card):
        if action["type"] == "Action.Execute":
            assert action.get("verb")
            assert action.get("data", {}).get("verb") == action["verb"]


def test_the_js_renderer_reports_no_events() -> None:
    node = shutil.which("node")
    script = ROOT / "tests" / "platform" / "parse_cards.cjs"
    if node is None or not (ROOT / "node_modules" / "adaptivecards").is_dir():
        pytest.skip("node or node_modules/adaptivecards is missing: run scripts/test (npm ci) to check cards in JS")
    cards = {name: RENDERER.render(name, RENDERER.sample(name)) for name in NAMES}
    cards["welcome (team)"] = RENDERER.render("welcome", {"app_name": "Courier", "scope": "team", "user_name": None})
    cards["help (mention hint)"] = RENDERER.render("help", {**RENDERER.sample("help"), "mention_hint": True})
    cards["unknown (no suggestion)"] = RENDERER.render("unknown_command", {"text": "xyzzy", "suggestion": None})
    out = subprocess.run([node, str(script)], input=json.dumps(cards), capture_output=True, text=True, check=True)
    problems = {name: events for name, events in json.loads(out.stdout).items() if events}
    assert problems == {}


@pytest.mark.parametrize(
    "hostile",
    ['He said "hi"\nand left', "{{ 7*7 }} {% raw %}", "</script><b>x</b> & \u2028", "😀 ünïcödé", "\\u0000 \\"],
)
def test_user_text_cannot_break_a_card(hostile: str) -> None:
    card = RENDERER.render("unknown_command", {"text": hostile, "suggestion": hostile})
    shown = json.dumps(card, ensure_ascii=False)
    assert json.dumps(hostile, ensure_ascii=False)[1:-1] in shown
    assert [a for a in _actions(card) if a.get("data", {}).get("command") == hostile]


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(UnknownCard):
        RENDERER.render("nope", {})


def test_missing_data_is_named() -> None:
    with pytest.raises(CardError, match="correlation_id"):
        RENDERER.render("error", {})


def test_a_card_over_the_teams_limit_is_refused() -> None:
    with pytest.raises(CardTooLarge) as caught:
        RENDERER.render("notice", {"app_name": "Courier", "title": "t", "text": "x" * MAX_CARD_BYTES})
    assert caught.value.size > MAX_CARD_BYTES
