"""The package's layout: short modules, dependencies that point one way.

Read from the source with ``ast``: which package modules each module imports
(at any depth of its code), and how long each module is.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sktime_logsparse"
MODULES = {
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts): path
    for path in PACKAGE.rglob("*.py")
}


def _imports(name: str) -> set[str]:
    """Package modules and top-level libraries that module ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            found.add(stem)
            found |= {f"{stem}.{alias.name}" for alias in node.names}
    return {m for m in found if m in MODULES} | {m.split(".")[0] for m in found}


def test_no_module_is_longer_than_450_lines():
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: k for n, k in long.items() if k > 450} == {}


def test_the_adapter_does_no_tensor_maths():
    imported = _imports("sktime_logsparse.forecaster")
    assert "torch" not in imported
    assert not any(m.startswith("sktime_logsparse.nn") for m in imported)


@pytest.mark.parametrize(
    "name", [n for n in MODULES if n.startswith("sktime_logsparse.nn")]
)
def test_the_network_knows_no_pandas_or_sktime(name):
    assert not _imports(name) & {"pandas", "sktime", "skpro"}


def test_no_import_cycles():
    graph = {
        name: {m for m in _imports(name) if m in MODULES and m != name}
        for name in MODULES
    }
    # a package imports its own modules (re-exports): that is not a cycle
    for name in graph:
        if MODULES[name].name == "__init__.py":
            graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError(" -> ".join([*path[path.index(node) :], node]))
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        path.pop()
        done.add(node)

    for name in sorted(graph):
        visit(name)
