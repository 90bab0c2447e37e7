"""The shape of the package a newcomer relies on: small modules, no import cycles, no
module reading another module's private (underscore) names, IPython only at the edge."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gradmagic"
MODULES = {
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): path
    for path in sorted(PACKAGE.rglob("*.py"))
}


def _imports(path: Path) -> list[tuple[str, list[str], ast.AST]]:
    """(module imported, names taken from it, node) for every gradmagic import, lazy ones too."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }  # imports for type hints only never run
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gradmagic"):
            found.append((node.module, [alias.name for alias in node.names], node))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("gradmagic"):
                    found.append((alias.name, [], node))
    return found


def _dependencies(name: str) -> set[str]:
    deps = set()
    for module, names, _ in _imports(MODULES[name]):
        for imported in names:  # `from gradmagic.minimize import problem` imports a module
            if f"{module}.{imported}" in MODULES:
                deps.add(f"{module}.{imported}")
        if module in MODULES and not all(f"{module}.{n}" in MODULES for n in names or ["?"]):
            deps.add(module)
    deps.discard(name)
    return deps


def test_no_module_is_large():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_no_import_cycles():
    graph = {name: _dependencies(name) for name in MODULES}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(name) :], name]))
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*trail, name])
        done.add(name)

    for name in graph:
        visit(name, [])


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for name, path in MODULES.items():
        for module, names, _ in _imports(path):
            offenders += [
                f"{name}: from {module} import {n}"
                for n in names
                if n.startswith("_") and not n.startswith("__")
            ]
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and not node.attr.startswith(("_repr_", "_ipython_"))
                and node.attr not in ("_replace", "_asdict", "_fields")  # NamedTuple's API
            ):
                offenders.append(f"{name}:{node.lineno}: .{node.attr}")
    assert offenders == []


def test_only_the_magics_package_imports_ipython_at_import_time():
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        modules = [
            n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in top_level
        ]
        if not name.startswith("gradmagic.magics"):
            assert not any((m or "").startswith("IPython") for m in modules), name
