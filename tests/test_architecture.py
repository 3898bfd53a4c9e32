"""The house rules, checked on the code's own imports and definitions (AST, nothing is run).

- the platform (``bot/platform``) imports no feature;
- a feature (``bot/features/<name>``) imports the platform and never another feature;
- no import cycle between packages (a module directly under ``bot/platform`` counts as a package of its own);
- botbuilder and botframework are imported by ``bot/platform/teams/adapter.py`` alone;
- no function in ``bot/`` is longer than 80 lines, and no complexity exemption (``noqa: PLR0915`` / ``C901``) hides one;
- settings are read once: only ``bot/platform/settings.py`` reads the environment;
- shipped code never imports the tests, and the local Microsoft 365 (``bot/sandbox``) is imported by nothing in the
  platform or the features (it drives Courier from outside, over HTTP and settings, as Microsoft would).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"
MAX_FUNCTION_LINES = 80
ADAPTER = "bot.platform.teams.adapter"
SETTINGS = "bot.platform.settings"


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or package)
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(BOT.rglob("*.py")):
        yield _module_name(path), path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports(module: str, tree: ast.Module, *, is_package: bool) -> Iterator[Import]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield Import(module, target, node.lineno)
            for alias in node.names:  # "from bot.features import reminders" imports a module too
                yield Import(module, f"{target}.{alias.name}", node.lineno)


def _all_imports() -> list[Import]:
    found: list[Import] = []
    for module, path, tree in _sources():
        found.extend(_imports(module, tree, is_package=path.name == "__init__.py"))
    return found


def _feature(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["bot", "features"] else None


def _modules() -> set[str]:
    return {module for module, _, _ in _sources()}


def _node(module: str, packages: set[str]) -> str:
    """The package a module belongs to for the cycle check: its directory, unless it sits directly under
    ``bot/platform`` or ``bot`` (then itself)."""
    parts = module.split(".")
    if module in packages and parts[:2] in (["bot", "platform"], ["bot", "features"]) and len(parts) > 2:
        return module
    parent = ".".join(parts[:-1])
    if parent in packages and len(parts) > 3:
        return parent
    return module


def test_the_platform_imports_no_feature() -> None:
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _all_imports()
        if i.module.startswith("bot.platform") and i.target.startswith("bot.features")
    ]
    assert wrong == [], "the platform must not know features:\n" + "\n".join(wrong)


def test_shipped_code_never_imports_the_tests() -> None:
    wrong = [f"{i.module}:{i.line} imports {i.target}" for i in _all_imports() if i.target.split(".")[0] == "tests"]
    assert wrong == [], "bot/ is shipped; the tests import it, never the other way:\n" + "\n".join(wrong)


def test_the_sandbox_is_reached_by_neither_the_platform_nor_the_features() -> None:
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _all_imports()
        if i.module.startswith(("bot.platform", "bot.features")) and i.target.startswith("bot.sandbox")
    ]
    assert wrong == [], "Courier meets the sandbox only through settings and HTTP:\n" + "\n".join(wrong)


def test_the_sandbox_imports_no_feature() -> None:
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _all_imports()
        if i.module.startswith("bot.sandbox") and i.target.startswith("bot.features")
    ]
    assert wrong == [], "the sandbox stands in for Microsoft, it knows no feature:\n" + "\n".join(wrong)


def test_a_feature_never_imports_another_feature() -> None:
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _all_imports()
        if _feature(i.module) and _feature(i.target) and _feature(i.module) != _feature(i.target)
    ]
    assert wrong == [], "features meet through events and the outbox, never by import:\n" + "\n".join(wrong)


def test_no_import_cycle_between_packages() -> None:
    modules = _modules()
    packages = {m for m in modules if (ROOT / Path(*m.split("."))).is_dir()}
    edges: dict[str, set[str]] = {}
    for i in _all_imports():
        if i.target not in modules:
            continue
        source, target = _node(i.module, packages), _node(i.target, packages)
        if source != target and not target.startswith(source + "."):
            edges.setdefault(source, set()).add(target)
    cycle = _find_cycle(edges)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle or [])


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_botbuilder_is_imported_by_the_adapter_alone() -> None:
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in _all_imports()
        if i.target.split(".")[0] in {"botbuilder", "botframework"} and i.module != ADAPTER
    ]
    assert wrong == [], "only the adapter may import the archived Bot Framework SDK:\n" + "\n".join(wrong)


def test_no_function_in_bot_is_longer_than_80_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} is {node.end_lineno - node.lineno + 1} lines"
        for _, path, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == [], "split these so each reads at once:\n" + "\n".join(long)


def test_no_complexity_exemptions_remain() -> None:
    exempt = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted([*BOT.rglob("*.py"), ROOT / "app.py"])
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "noqa" in line and ("PLR0915" in line or "C901" in line)
    ]
    assert exempt == [], "complexity exemptions:\n" + "\n".join(exempt)


def test_only_the_settings_module_reads_the_environment() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for module, path, tree in _sources()
        if module != SETTINGS
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in {"environ", "getenv"}
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ]
    assert wrong == [], "settings are read once, in bot/platform/settings.py:\n" + "\n".join(wrong)


def test_the_cycle_check_finds_a_cycle_through_three_packages() -> None:
    edges = {
        "bot.platform.a": {"bot.platform.b"},
        "bot.platform.b": {"bot.platform.c"},
        "bot.platform.c": {"bot.platform.a"},
    }
    assert _find_cycle(edges) == ["bot.platform.a", "bot.platform.b", "bot.platform.c", "bot.platform.a"]
    assert _find_cycle({"bot.platform.a": {"bot.platform.b"}}) is None


def test_a_relative_import_is_resolved_to_the_module_it_names() -> None:
    tree = ast.parse("from ..reminders import store\nfrom . import cards\n")
    targets = {i.target for i in _imports("bot.features.insights.handlers", tree, is_package=False)}
    assert {"bot.features.reminders.store", "bot.features.insights.cards"} <= targets
