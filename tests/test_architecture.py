"""The shape of the package: no import cycle among btr's modules, and the bottom layer stays at the bottom.

Every import counts, including those inside functions: a lazy import hides an edge from a
reader but not from this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import btr

PACKAGE = Path(btr.__file__).parent

#: Modules at the bottom: they import nothing of btr but each other, in this order of layers.
BOTTOM = {
    "btr.errors": set(),
    "btr.files": set(),
    "btr.paths": set(),
    "btr.settings": set(),
    "btr.dates": set(),
    "btr.schema": {"btr.dates", "btr.errors"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from btr.models import train" depends on btr.models; "from btr import x" on btr.x
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != "btr":
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of btr it imports}`` over every module of the package."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    graph = {name: _imports(path, modules) - {name} for name, path in files.items()}
    # a package's own modules import it (btr.models.x -> btr.models) only through their parent:
    # that is not a cycle, since Python loads the parent first
    return {name: {d for d in deps if not name.startswith(d + ".")} for name, deps in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_btr():
    cycle = _cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_bottom_modules_import_only_the_bottom():
    graph = import_graph()
    for module, allowed in BOTTOM.items():
        assert graph[module] <= allowed, f"{module} imports {sorted(graph[module] - allowed)}"


def _module_map() -> dict[str, set[str]]:
    text = (PACKAGE.parent / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text.split("## Module map", 1)[1]
    allowed = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`btr"):
            deps = {f"btr.{d.strip()}" for d in cells[2].split(",") if d.strip() not in ("", "—")}
            allowed[cells[0].strip("`")] = deps
    return allowed


def test_the_module_map_in_contributing_is_true():
    allowed, graph = _module_map(), import_graph()
    assert set(allowed) == set(graph), f"not in the map: {sorted(set(graph) - set(allowed))}"
    for module, deps in graph.items():
        assert deps <= allowed[module], f"{module} imports {sorted(deps - allowed[module])}, not in the map"
