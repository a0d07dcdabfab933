"""The layout ARCHITECTURE.md describes: imports among mock_server's modules point one way, so each module can be
read (and loaded) without the ones above it."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules(package: str = "mock_server") -> dict[str, Path]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules `name` imports anywhere in its source (function-level and TYPE_CHECKING imports
    included: a lazy import hides a cycle, it does not remove it). `from . import x` of a submodule x imports x,
    not the package."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join((package[:len(package) - node.level + 1] if node.level else [])
                            + ([node.module] if node.module else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known.keys()
            found |= submodules
            if len(submodules) < len(node.names):
                found.add(base)
    return {target for target in found if target in known and target != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_no_import_cycle_among_the_servers_modules():
    try:
        TopologicalSorter(graph()).prepare()
    except CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_the_walk_sees_imports_of_every_form():
    """The check above is only as good as the walk: lazy, relative and package-level imports are all seen."""
    edges = graph()
    assert "mock_server.mock" in edges["mock_server.admin"]  # from .mock import ...
    assert "mock_server.providers.intacct.rules" in edges["mock_server.providers.intacct.provider"]  # from . import
    assert "mock_server.ledger" in edges["mock_server.providers.intacct.rules"]  # from ...ledger import
    assert "mock_server.providers" in edges["mock_server.providers.intacct.provider"]  # from .. import Call
    lazy = ast.parse("def f():\n    from .ledger import Book\n")
    assert any(isinstance(node, ast.ImportFrom) for node in ast.walk(lazy))


def test_the_ledger_knows_nothing_of_http_or_providers():
    """The ledger is provider-neutral: it imports only itself and the clock."""
    for name, targets in graph().items():
        if name.startswith("mock_server.ledger"):
            assert targets <= {t for t in modules() if t.startswith("mock_server.ledger")} | {"mock_server.clock"}, \
                (name, targets)
