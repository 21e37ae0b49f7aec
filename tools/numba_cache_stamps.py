"""Stamp every module with ``cache=True`` Numba kernels with a hash of the first-party code they import.

Why: Numba's on-disk cache is keyed on the jitted function's own source file (its mtime and size).
Globals a kernel reads (constants, arrays, other jitted functions) are frozen into its machine code
at compile time, so a kernel that imports them from another module keeps its old code when only that
other module changes: it silently computes with the old slot numbers or weights. Each such module
therefore carries one line::

    NUMBA_CACHE_INPUTS = "<16 hex>"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

The hash covers the source of every first-party module (any module under ``packages/*/src`` or
``examples/*/src``) the file imports at module level, and, through modules without a stamp, what
those import in turn (a constant re-exported by a plain module is still read by the kernel). A
stamped dependency is not walked further: its own stamp line already stands for its inputs. When an
input changes, the line changes, the file changes, and Numba recompiles the kernels in it.

    python tools/numba_cache_stamps.py --check   # list missing or stale stamps, exit 1 if any
    python tools/numba_cache_stamps.py --write   # rewrite them

Stamps feed each other (``time.py`` hashes ``threshold.py``, stamp line included), so they are
computed dependencies first; that is the fixed point in one pass, and a ring of stamped modules,
which has none, is reported as an error. Standard library only, so it runs before ``uv sync``.
"""

from __future__ import annotations

import argparse
import ast
import graphlib
import hashlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STAMP_NAME = "NUMBA_CACHE_INPUTS"
# short enough that the whole stamp line fits cde-bars' 110 columns
STAMP_COMMENT = "# sha256 of the cde code it imports; tools/numba_cache_stamps.py"
STAMP_LINE = re.compile(rf'^{STAMP_NAME} = "[0-9a-f]*".*$', re.MULTILINE)
DIGEST_CHARS = 16
WRITE_COMMAND = "python tools/numba_cache_stamps.py --write"


class StampCycleError(Exception):
    """Stamped modules import each other in a ring, so no stamp can hash the others' final text."""


@dataclass
class Module:
    """One first-party source file: where it is, its text, and what it imports at module level."""

    name: str
    path: Path
    text: str
    imports: set[str]
    has_cached_kernels: bool
    stamp_anchor: int


@dataclass(frozen=True)
class StaleStamp:
    """A stamped module whose file differs from what ``--write`` would make it."""

    path: Path
    expected_line: str
    new_text: str


def source_roots(root: Path) -> list[Path]:
    """The ``src`` folders of the workspace members: what counts as first-party."""
    return sorted(p for pattern in ("packages/*/src", "examples/*/src") for p in root.glob(pattern) if p.is_dir())


def module_paths(roots: list[Path]) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the source roots."""
    found: dict[str, Path] = {}
    for src in roots:
        for path in sorted(src.rglob("*.py")):
            parts = path.relative_to(src).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                found[".".join(parts)] = path
    return found


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import: the body and its if/try/with blocks, not ``if TYPE_CHECKING:``."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            test = node.test
            type_checking = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
            if not type_checking:
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level(block)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def _imported_names(tree: ast.Module, name: str, is_package: bool) -> Iterator[str]:
    """Every dotted name a module-level import may load: ``from a.b import c`` gives ``a.b`` and ``a.b.c``."""
    package = name if is_package else name.rpartition(".")[0]
    for node in _module_level(tree.body):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _has_cached_kernels(tree: ast.Module) -> bool:
    """True when the module imports numba and asks for ``cache=True``, as a keyword or in an options
    dict (``_JIT = {"nogil": True, "cache": True}`` then ``@njit(**_JIT)``)."""
    uses_numba = False
    asks_cache = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            uses_numba |= any(a.name.split(".")[0] == "numba" for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            uses_numba |= (node.module or "").split(".")[0] == "numba"
        elif isinstance(node, ast.Call):
            asks_cache |= any(k.arg == "cache" and _is_true(k.value) for k in node.keywords)
        elif isinstance(node, ast.Dict):
            asks_cache |= any(isinstance(k, ast.Constant) and k.value == "cache" and _is_true(v)
                              for k, v in zip(node.keys, node.values, strict=True))
    return uses_numba and asks_cache


def _is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _stamp_anchor(tree: ast.Module) -> int:
    """The line the stamp goes after: the last top-level import, else the module docstring (numba may be
    imported inside a function), else the top of the file."""
    ends = [n.end_lineno or n.lineno for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
        ends.append(tree.body[0].end_lineno or tree.body[0].lineno)
    return max(ends, default=0)


def load_modules(root: Path) -> dict[str, Module]:
    """Parse every first-party module once; imports are kept only where they name first-party modules."""
    paths = module_paths(source_roots(root))
    modules: dict[str, Module] = {}
    for name, path in paths.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        imports = {n for n in _imported_names(tree, name, path.name == "__init__.py") if n in paths and n != name}
        modules[name] = Module(name, path, text, imports, _has_cached_kernels(tree), _stamp_anchor(tree))
    return modules


def stamp_inputs(module: Module, modules: dict[str, Module]) -> set[str]:
    """The modules whose source a stamp hashes: imports, followed through modules without a stamp."""
    seen: set[str] = set()
    pending = list(module.imports)
    while pending:
        name = pending.pop()
        if name in seen or name == module.name:
            continue
        seen.add(name)
        if not modules[name].has_cached_kernels:
            pending.extend(modules[name].imports)
    return seen


def digest(names: set[str], texts: dict[str, str]) -> str:
    """sha256 over (name, source) in name order; newline-normalised text, so a CRLF checkout agrees."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode() + b"\n" + texts[name].encode("utf-8") + b"\0")
    return h.hexdigest()[:DIGEST_CHARS]


def stamp_line(value: str) -> str:
    return f'{STAMP_NAME} = "{value}"  {STAMP_COMMENT}'


def with_stamp(module: Module, value: str) -> str:
    """The module's text with its stamp line replaced, or inserted after the last top-level import."""
    line = stamp_line(value)
    if STAMP_LINE.search(module.text):
        return STAMP_LINE.sub(lambda _: line, module.text, count=1)
    lines = module.text.splitlines(keepends=True)
    at = module.stamp_anchor
    return "".join([*lines[:at], "\n", line + "\n", *lines[at:]])


def stale_stamps(root: Path) -> list[StaleStamp]:
    """Every stamped module whose stamp is missing or wrong, with the text it should have.

    Computed dependencies first, on the texts as they will be after rewriting, so one ``--write``
    reaches the fixed point. Raises :class:`StampCycleError` naming the ring."""
    modules = load_modules(root)
    stamped = {name: m for name, m in modules.items() if m.has_cached_kernels}
    inputs = {name: stamp_inputs(m, modules) for name, m in stamped.items()}
    graph = {name: {d for d in deps if d in stamped} for name, deps in inputs.items()}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        ring = " -> ".join(err.args[1])
        raise StampCycleError(
            f"kernel modules import each other in a ring ({ring}), so none can hash the others' final "
            "text; move what they share into a module without kernels") from err
    texts = {name: m.text for name, m in modules.items()}
    stale: list[StaleStamp] = []
    for name in order:
        value = digest(inputs[name], texts)
        texts[name] = with_stamp(stamped[name], value)
        if texts[name] != stamped[name].text:
            stale.append(StaleStamp(stamped[name].path, stamp_line(value), texts[name]))
    return stale


def write_atomic(path: Path, text: str) -> None:
    """Temp file in the same folder, then rename: an interrupted run never leaves half a module."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="list missing or stale stamps; exit 1 if any")
    action.add_argument("--write", action="store_true", help="rewrite missing or stale stamps")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="workspace root holding packages/ and examples/ (default: this checkout)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        stale = stale_stamps(root)
    except StampCycleError as err:
        print(f"numba cache stamps: {err}", file=sys.stderr)
        return 2
    if args.check:
        for s in sorted(stale, key=lambda s: s.path):
            print(f"{s.path.relative_to(root)}: stamp missing or stale, expected\n    {s.expected_line}")
        if stale:
            print(f"{len(stale)} file(s) would keep stale Numba caches; run: {WRITE_COMMAND}")
        return 1 if stale else 0
    for s in stale:
        write_atomic(s.path, s.new_text)
        print(f"stamped {s.path.relative_to(root)}")
    if stale_stamps(root):  # one pass in dependency order is the fixed point; say so loudly if not
        print("numba cache stamps: still stale after writing (a bug in this tool)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
