"""The shape of the house: imports point one way, and library internals are where we expect them.

Import cycles are found from the source (every `import` a module runs, at module level or inside
a function, but not those under `if TYPE_CHECKING:`), so a lazy import inside a function cannot
hide a cycle. The only cycles allowed are among the GraphQL types (api/graphql/types), which
refer to each other by nature (a claim has a source, a source lists its claims) and break the
cycle at run time with Strawberry's lazy types.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.graphql import internals
from api.settings import PROJECT_ROOT

PACKAGES = ("api", "schema", "bench")
ALLOWED_CYCLES_WITHIN = "api.graphql.types"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, known: dict[str, Path]) -> set[str]:
    """The project modules `module` imports, wherever in it the import stands."""
    found: set[str] = set()
    package = module if known[module].name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    out = set()
    for name in found:
        # `import a.b.c` runs a, a.b and a.b.c
        parts = name.split(".")
        for n in range(1, len(parts) + 1):
            prefix = ".".join(parts[:n])
            if prefix in known and prefix != module:
                out.add(prefix)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {
        name: _imports(ast.parse(path.read_text(encoding="utf-8")), name, known)
        for name, path in known.items()
    }


def test_no_import_cycle_outside_the_graphql_types() -> None:
    graph = _graph()
    # Packages import their own modules (api/graphql/compiled/__init__.py re-exports): an edge
    # from a package to its own member is how a package is made, not a cycle of design.
    trimmed = {
        v: {w for w in ws if not w.startswith(v + ".") and not v.startswith(w + ".")}
        for v, ws in graph.items()
    }
    bad = [
        cycle
        for cycle in _cycles(trimmed)
        if not all(m == ALLOWED_CYCLES_WITHIN or m.startswith(ALLOWED_CYCLES_WITHIN + ".") for m in cycle)
    ]
    assert not bad, "import cycles: " + "; ".join(" <-> ".join(c) for c in bad)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from api.store import db\nif TYPE_CHECKING:\n    import api.app\n")
    known = {"x": Path("x.py"), "api.store": Path("api/store/__init__.py"), "api.store.db": Path("db.py")}
    known["api.app"] = Path("app.py")
    assert _imports(tree, "x", known) == {"api.store", "api.store.db"}


def test_library_internals_are_as_the_code_expects() -> None:
    """graphql-core's and Strawberry's internals that the compiled path and the field
    declarations use (api/graphql/internals.py) still behave as they did when tested."""
    try:
        internals.check()
    except internals.InternalsChanged as exc:
        pytest.fail(str(exc), pytrace=False)
