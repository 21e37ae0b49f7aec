"""Meta-tests that keep the hooks honest (as datasette does): every hookspec is documented in
docs/plugins.md with a complete example that this file runs, and is exercised by other tests."""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cde_core import hookspecs
from cde_core.plugins import KINDS, PluginHost

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text()
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
               if name.startswith("register_"))
KIND_OF_HOOK = {hook: kind for kind, (hook, _protocol) in KINDS.items()}
TEST_FILES = [p for pattern in ("tests/*.py", "packages/*/tests/*.py", "examples/*/tests/*.py")
              for p in ROOT.glob(pattern) if p.name != Path(__file__).name]


def section(hook: str) -> str:
    match = re.search(rf"^## {hook}\n(.*?)(?=^## |\Z)", DOC, flags=re.S | re.M)
    assert match, f"docs/plugins.md has no '## {hook}' section"
    return match.group(1)


def example_module(text: str, name: str) -> types.ModuleType:
    """The section's python example, executed as a module (exactly as a plugin module would be)."""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the section has no ```python example"
    module = types.ModuleType(name)
    sys.modules[name] = module  # as an import would (dataclasses and pickling look the module up)
    exec(compile(blocks[-1], f"docs/plugins.md:{name}", "exec"), module.__dict__)
    return module


def registered_by(module: types.ModuleType, hook: str) -> tuple[PluginHost, Any]:
    host = PluginHost(load_entry_points=False)
    host.register(module, name="doc_example", distribution="doc-example")
    info = next(p for p in host.plugins() if p.name == "doc_example")
    assert info.status == "ok" and info.hooks == [hook], (info.error, info.hooks)
    return host, info


def test_hook_list_matches_architecture() -> None:
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    assert HOOKS and all(f"`{hook}(" in architecture for hook in HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_with_what_to_register(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 15


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook: str) -> None:
    users = [p for p in TEST_FILES if hook in p.read_text()]
    assert users, f"no test (outside this meta-test) mentions {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_implemented_by_an_installed_plugin(hook: str) -> None:
    host = PluginHost()
    implementers = [impl.plugin_name for impl in getattr(host.pm.hook, hook).get_hookimpls()]
    assert implementers, f"no installed plugin implements {hook}: it is untested through a real plugin"


@pytest.mark.parametrize("hook", [h for h in HOOKS if h in KIND_OF_HOOK])
def test_the_documented_example_registers_an_object_that_keeps_its_contract(hook: str) -> None:
    from cde_core.testing import check_bar_builder, check_factor, check_strategy, synthetic_panel

    host, _info = registered_by(example_module(section(hook), f"doc_{hook}"), hook)
    kind = KIND_OF_HOOK[hook]
    entries = [e for e in host.registry(kind) if e.distribution == "doc-example"]
    assert len(entries) == 1
    obj = entries[0].obj
    params = obj.Params()
    panel = synthetic_panel(4, 60)
    if kind == "factors":
        check_factor(obj)
    elif kind == "bar_builders":
        check_bar_builder(obj, {"n": 250})
    elif kind == "strategies":
        check_strategy(obj)
    elif kind == "signals":
        scores = obj.generate(panel.assign(ret_log_24=panel["close"].pct_change()), params)
        assert scores.index.equals(panel.index) and scores.dropna().between(-1, 1).all()
    elif kind == "engines":
        weights = panel["close"] * 0 + 0.25
        result = obj.run(panel, weights, params)
        moves = (panel["close"] / panel["open"] - 1).unstack("symbol").iloc[1:].mean(axis=1)
        assert result.nav.iloc[-1] == pytest.approx((1 + moves).prod())  # hand oracle: ¼ in each symbol
    elif kind == "executors":
        from cde_core.contracts.executor import Job

        seen: list[float] = []
        jobs = [Job(str(i), pow, (i, 2)) for i in range(4)]
        assert obj.create(params).run(jobs, progress=lambda f, m: seen.append(f)) == [0, 1, 4, 9]
        assert seen == [0.25, 0.5, 0.75, 1.0]
    elif kind == "exchanges":
        from datetime import date

        from cde_core.contracts.exchange import ArchiveRequest

        request = ArchiveRequest(exchange=obj.name, market="spot", symbols=["X"], start=date(2024, 1, 1),
                                 end=date(2024, 1, 1))
        assert obj.download(request).model_dump() == {"exchange": "null_exchange", "files": 0}
    elif kind == "services":
        import tempfile

        from cde_core.lake import Lake

        with tempfile.TemporaryDirectory() as root:
            for day in ("2024-01-01", "2024-01-02"):  # two partitions, one stray file that is not one
                folder = Path(root) / "trades" / "exchange=x" / "market=spot" / "symbol=A" / f"date={day}"
                folder.mkdir(parents=True)
                (folder / "part-0.parquet").write_bytes(b"")
                (folder / ".part-0.parquet.tmp").write_bytes(b"")
            assert obj.run(params, Lake(root)) == 2


def test_the_documented_command_example_runs_through_the_cde_shell() -> None:
    import typer
    from typer.testing import CliRunner

    from cde_server.contributions import add_plugin_commands

    host, info = registered_by(example_module(section("register_commands"), "doc_commands"), "register_commands")
    app = typer.Typer()
    app.command("plugins")(lambda: None)
    add_plugin_commands(app, host)
    assert info.added["commands"] == ["hello"]
    result = CliRunner().invoke(app, ["hello", "to", "Ada"])
    assert result.exit_code == 0 and result.output.strip() == "hello Ada"


def test_the_documented_route_example_is_served() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from cde_server.contributions import add_plugin_routes

    host, info = registered_by(example_module(section("register_routes"), "doc_routes"), "register_routes")
    app = FastAPI()
    add_plugin_routes(app, host)
    assert info.added["routes"] == ["GET /hello/{name}"]
    assert TestClient(app).get("/hello/Ada").json() == {"greeting": "hello Ada"}


def test_the_twenty_line_factor_of_the_guide_passes_the_kit() -> None:
    from cde_core.testing import check_factor

    intro = DOC.split("## Installing cde")[0]
    module = example_module(intro.split("```toml")[0], "doc_quickstart")
    source = re.findall(r"```python\n(.*?)```", intro, flags=re.S)[0]
    assert len([line for line in source.splitlines() if line.strip()]) <= 25
    out = check_factor(module.CloseZScore(), {"window": 24})
    assert list(out.columns) == ["close_zscore_24"]
