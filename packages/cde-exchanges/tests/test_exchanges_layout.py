"""The package's module layout: every module imports, and no module imports another that imports it back.

Why: a circle of imports (the adapter importing the service that drives it) makes the lower layer
depend on the upper one, so neither can be read, tested or reused alone. Lazy imports inside
functions count too: they close the same circle, only later. The graph is read from the source with
:mod:`ast`, so a cycle is found even on a path no test happens to execute.
"""

from __future__ import annotations

import ast
import graphlib
import importlib
from pathlib import Path

import pytest

import cde_exchanges

PACKAGE = "cde_exchanges"
SOURCE_ROOT = Path(cde_exchanges.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(SOURCE_ROOT.rglob("*.py"))}


def imported_modules(path: Path) -> set[str]:
    """First-party modules ``path`` imports anywhere in its body (``from a.b import c`` names the
    module ``a.b.c`` when that is a module, else ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name == PACKAGE or name.startswith(PACKAGE + "."))
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(path) - {name} for name, path in MODULES.items()}


def test_the_graph_reader_sees_lazy_imports_and_cycles(tmp_path: Path) -> None:
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from cde_exchanges.download.service import run_download\n")
    assert imported_modules(lazy) == {"cde_exchanges.download.service"}
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())


def test_no_import_cycle_between_modules() -> None:
    graph = import_graph()
    assert all(target in MODULES for targets in graph.values() for target in targets), "unresolved import"
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_the_formats_know_nothing_of_downloading() -> None:
    """The adapters describe and read archives; the download service takes an adapter, never the reverse."""
    graph = import_graph()
    formats = {name for name in MODULES if name.startswith(f"{PACKAGE}.formats")}
    for name in formats:
        assert graph[name] <= formats, f"{name} imports {sorted(graph[name] - formats)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name: str) -> None:
    try:
        importlib.import_module(name)
    except ImportError as error:  # only an optional third-party extra may be missing, never our own module
        if error.name and error.name.startswith(PACKAGE):
            raise
        pytest.skip(f"optional dependency missing: {error.name}")


def test_only_the_commands_reach_the_fakes() -> None:
    """The lake, the download and the adapters never depend on test fakes; only ``cde exchanges
    make-archive`` / ``serve-archive`` (cli) use them."""
    graph = import_graph()
    fakes = f"{PACKAGE}.fakes"
    users = {name for name, targets in graph.items() if not name.startswith(fakes)
             and any(target.startswith(fakes) for target in targets)}
    assert users == {f"{PACKAGE}.cli"}
