"""The layout keeps its shape: no import cycle between packages, small modules and functions, and
every package placed in the layers that ``lint-imports`` checks (pyproject.toml)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parent.parent / "feedback_sla"
PYPROJECT = PACKAGE.parent / "pyproject.toml"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.relative_to(PACKAGE).parts)


def _package_of(module: str) -> str:
    """``feedback_sla.waits.service`` -> ``feedback_sla.waits``: the package a module belongs to."""
    return ".".join(module.split(".")[:2])


def _package_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("feedback_sla", cache_dir=None)
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        if module == "feedback_sla":
            continue  # the root only names the app factory for ``feedback_sla:create_app()``
        for imported in graph.find_modules_directly_imported_by(module):
            source, target = _package_of(module), _package_of(imported)
            if target != "feedback_sla" and source != target:
                edges.setdefault(source, set()).add(target)
    return edges


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_the_packages():
    edges = _package_graph()
    assert "feedback_sla.waits" in edges  # the graph really was read
    cycle = _find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_modules_and_functions_stay_small():
    too_long = []
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(PACKAGE.parent)
        if source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}: {node.name}() {length} lines")
    assert too_long == []


def test_every_package_has_its_place_in_the_layers():
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    [layers] = [c["layers"] for c in contracts if c["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    children = {
        f"feedback_sla.{p.stem if p.is_file() else p.name}"
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
        or (p.is_dir() and (p / "__init__.py").exists() and p.name != "migrations")
    }
    assert children - placed == set()


def test_a_position_overrides_exactly_the_reasons_a_wait_can_have():
    # positions sits below waits, so it names the reasons itself; they must not drift apart.
    from feedback_sla.positions.service import REASONS
    from feedback_sla.waits.models import WaitReason

    assert set(REASONS) == {reason.value for reason in WaitReason}
