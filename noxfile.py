"""Developer sessions. `tests`, `lint`, `typecheck`, `e2e` run in the workspace venv (uv); `bench` and
`minimal` build their own venvs so benchmark-only libraries never leak into the test environment."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "uv"
ROOT = Path(__file__).parent
PACKAGES = sorted(str(p) for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").iterdir() if (p / "pyproject.toml").exists())


def _sync(session: nox.Session) -> None:
    session.run("uv", "sync", "--all-packages", "--frozen", external=True)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The whole test suite (what CI runs)."""
    _sync(session)
    session.run("uv", "run", "--frozen", "pytest", *session.posargs, external=True)


@nox.session(venv_backend="none")
def e2e(session: nox.Session) -> None:
    """Only the end-to-end flows (the demo on a small market, the CLI in subprocesses)."""
    _sync(session)
    session.run("uv", "run", "--frozen", "pytest", "tests", "-m", "e2e", *session.posargs, external=True)


@nox.session(venv_backend="none")
def api_fuzz(session: nox.Session) -> None:
    """The long schemathesis run against the live API with every plugin loaded (the suite runs a
    bounded one): `nox -s api_fuzz -- 2000` sets the examples per operation (default 500)."""
    import socket
    import subprocess
    import tempfile
    import time
    import urllib.request

    _sync(session)
    examples = session.posargs[0] if session.posargs else "500"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = tempfile.mkdtemp(prefix="cde-api-fuzz-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env.update({"CDE_DATA_ROOT": f"{root}/lake", "CDE_TASK_STORE": "memory"})
    server = subprocess.Popen(["uv", "run", "--frozen", "uvicorn", "--factory",
                               "cde_server.api.app:app_from_environment", "--host", "127.0.0.1", "--port",
                               str(port), "--log-level", "warning"], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                session.error("the API server exited before it answered")
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        session.run("uv", "run", "--frozen", "schemathesis", "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
                    "run", f"{url}/openapi.json", "--checks", "all",
                    "--max-examples", examples, "--workers", "2", "--suppress-health-check", "too_slow",
                    "--request-timeout", "30", external=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff, and the Numba cache stamps (a stale one lets cached kernels run with old imported constants)."""
    _sync(session)
    session.run("uv", "run", "--frozen", "ruff", "check", "packages", "examples", "tests", "benchmarks", "tools",
                "noxfile.py", external=True)
    session.run("uv", "run", "--frozen", "python", "tools/numba_cache_stamps.py", "--check", external=True)


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the kernel, the part every plugin builds on."""
    _sync(session)
    session.run("uv", "run", "--frozen", "mypy", "packages/cde-core/src/cde_core", external=True)


def _bench_requirements(path: Path) -> list[str]:
    """The module-level BENCH_REQUIREMENTS list of a benchmark file, read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "BENCH_REQUIREMENTS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks with their baselines (pandas, polars, DuckDB, vectorbt) in a venv of their own.
    `nox -s bench -- bars` runs only benchmarks/bench_bars.py."""
    files = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    if session.posargs:
        files = [f for f in files if f.stem.removeprefix("bench_") in session.posargs]
    requirements = sorted({r for f in files for r in _bench_requirements(f)} | {"psutil"})
    session.install(*[arg for p in PACKAGES + EXAMPLES for arg in ("-e", p)], *requirements)
    for file in files:
        session.run("python", str(file))


@nox.session(python="3.11")
def minimal(session: nox.Session) -> None:
    """Install only what you need: cde-core + cde-server alone run `cde plugins`."""
    session.install(str(ROOT / "packages/cde-core"), str(ROOT / "packages/cde-server"))
    session.run("cde", "plugins", "--json")


@nox.session(python="3.11")
def plugin_wheels(session: nox.Session) -> None:
    """Outside the repository: build every package's wheel with `uv build --all-packages`, install
    cde-core, cde-server and the example plugin from those wheels (dependencies from the index) into
    this clean venv, and check `cde plugins --json` lists the plugin as a user would see it."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cde-wheels-") as folder:
        out = Path(folder)
        session.run("uv", "build", "--all-packages", "--wheel", "--out-dir", str(out), external=True)
        wanted = ("cde_core-", "cde_server-", "cde_example_plugin-")
        wheels = sorted(str(w) for w in out.glob("*.whl") if w.name.startswith(wanted))
        if len(wheels) != len(wanted):
            session.error(f"expected wheels for {wanted}, found {wheels}")
        session.install(*wheels)
    report = json.loads(str(session.run("cde", "plugins", "--json", silent=True)))
    plugins = {p["name"]: p for p in report["plugins"]}
    example = plugins.get("example")
    if not example or example["status"] != "ok" or example["distribution"] != "cde-example-plugin":
        session.error(f"the example plugin is not listed as ok: {plugins}")
    broken = [p for p in plugins.values() if p["error"]]
    components = {(c["kind"], c["name"]) for c in report["components"]}
    if broken or not {("factors", "example_range_position"), ("strategies", "example_low_range")} <= components:
        session.error(f"broken: {broken}; components: {sorted(components)}")
    listed = ", ".join(f"{name} {info['version']} {info['status']}" for name, info in plugins.items())
    session.log(f"from wheels: {listed}; {len(components)} components")
