"""``NUMBA_CACHE_INPUTS`` stamps: the repository's are current, and they are what makes Numba recompile.

Numba's on-disk cache is keyed on a kernel's own file, so a constant imported from another module is
frozen into the cached code; tools/numba_cache_stamps.py writes a hash of those imports into the
kernel's file so that editing them changes it. The second test shows both halves in throwaway
modules: the stale value without a stamp, the fresh one once the tool has rewritten it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "numba_cache_stamps.py"

KERNEL = '''"""A cached kernel reading a constant from another module, as cde_bars.kernels.time reads layout."""

from numba import njit

from demo_kernels.layout import WEIGHT


@njit(cache=True)
def weight() -> int:
    return WEIGHT
'''


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, check=False)


def write_workspace(root: Path, files: dict[str, str]) -> Path:
    """A minimal workspace the tool understands: ``packages/demo/src/<files>``; returns the src folder."""
    src = root / "packages" / "demo" / "src"
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return src


def test_repository_stamps_are_current() -> None:
    result = run_tool("--check")
    assert result.returncode == 0, (
        "Numba cache stamps are missing or stale; cached kernels would keep using the old imports.\n"
        f"{result.stdout}{result.stderr}\nFix: python tools/numba_cache_stamps.py --write")


def test_stamp_makes_numba_recompile_after_an_imported_constant_changes(tmp_path: Path) -> None:
    src = write_workspace(tmp_path, {"demo_kernels/__init__.py": "", "demo_kernels/layout.py": "WEIGHT = 1\n",
                                     "demo_kernels/kernel.py": KERNEL})
    layout = src / "demo_kernels" / "layout.py"
    kernel = src / "demo_kernels" / "kernel.py"
    # the cache goes to tmp, never into the repository's (or the user's) __pycache__
    env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("NUMBA_DISABLE_JIT", None)

    def cached_weight() -> int:
        result = subprocess.run([sys.executable, "-c", "from demo_kernels.kernel import weight; print(weight())"],
                                env=env, capture_output=True, text=True, check=True)
        return int(result.stdout)

    assert cached_weight() == 1
    assert list((tmp_path / "numba-cache").rglob("*.nbi")), "the kernel was not cached; the test shows nothing"

    # Numba's behaviour: only layout.py changed, so kernel.py's cache entry still matches and is reused
    layout.write_text("WEIGHT = 2\n")
    assert cached_weight() == 1

    check = run_tool("--check", "--root", str(tmp_path))
    assert check.returncode == 1
    assert "packages/demo/src/demo_kernels/kernel.py" in check.stdout
    assert 'NUMBA_CACHE_INPUTS = "' in check.stdout

    assert run_tool("--write", "--root", str(tmp_path)).returncode == 0
    assert "NUMBA_CACHE_INPUTS" in kernel.read_text()
    assert cached_weight() == 2

    # a stamp that only changes value (same file size) still invalidates: the index compares mtimes too
    size = kernel.stat().st_size
    layout.write_text("WEIGHT = 3\n")
    assert run_tool("--write", "--root", str(tmp_path)).returncode == 0
    assert kernel.stat().st_size == size
    assert cached_weight() == 3
    assert run_tool("--check", "--root", str(tmp_path)).returncode == 0


def test_stamp_follows_imports_through_modules_without_kernels(tmp_path: Path) -> None:
    """A constant re-exported by a plain module still ends up in the kernel's code, so it counts."""
    src = write_workspace(tmp_path, {
        "demo_kernels/__init__.py": "",
        "demo_kernels/slots.py": "WEIGHT = 1\n",
        "demo_kernels/layout.py": "from demo_kernels.slots import WEIGHT\n",
        "demo_kernels/kernel.py": KERNEL,
    })
    assert run_tool("--write", "--root", str(tmp_path)).returncode == 0
    (src / "demo_kernels" / "slots.py").write_text("WEIGHT = 2\n")
    check = run_tool("--check", "--root", str(tmp_path))
    assert check.returncode == 1
    assert "demo_kernels/kernel.py" in check.stdout


def test_stamps_propagate_through_stamped_modules_and_reach_a_fixed_point(tmp_path: Path) -> None:
    """kernel -> middle (stamped) -> layout: one ``--write`` settles both, and a layout edit reaches
    ``kernel.py`` through the change of ``middle.py``'s stamp line."""
    middle = KERNEL.replace("def weight", "def middle_weight")
    kernel = ("from numba import njit\n\nfrom demo_kernels.middle import middle_weight\n\n\n"
              "@njit(cache=True)\ndef weight() -> int:\n    return middle_weight()\n")
    src = write_workspace(tmp_path, {"demo_kernels/__init__.py": "", "demo_kernels/layout.py": "WEIGHT = 1\n",
                                     "demo_kernels/middle.py": middle, "demo_kernels/kernel.py": kernel})
    assert run_tool("--write", "--root", str(tmp_path)).returncode == 0
    assert run_tool("--check", "--root", str(tmp_path)).returncode == 0
    before = (src / "demo_kernels" / "kernel.py").read_text()
    (src / "demo_kernels" / "layout.py").write_text("WEIGHT = 2\n")
    assert run_tool("--write", "--root", str(tmp_path)).returncode == 0
    assert (src / "demo_kernels" / "kernel.py").read_text() != before


def test_a_ring_of_stamped_modules_fails_with_the_ring(tmp_path: Path) -> None:
    ring = {
        f"demo_kernels/{a}.py": f"from numba import njit\n\nimport demo_kernels.{b}\n\n\n"
                                f"@njit(cache=True)\ndef f() -> int:\n    return 1\n"
        for a, b in (("a", "b"), ("b", "a"))
    }
    write_workspace(tmp_path, {"demo_kernels/__init__.py": "", **ring})
    result = run_tool("--write", "--root", str(tmp_path))
    assert result.returncode == 2
    assert "ring" in result.stderr
    assert "demo_kernels.a" in result.stderr
    assert "demo_kernels.b" in result.stderr
