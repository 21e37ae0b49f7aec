"""Every registered `cde` command, driven with bad values: exactly one line on stderr, a non-zero exit,
and never "internal error", a pydantic URL or a traceback.

The commands are enumerated from the Typer app the `cde` script builds (shell commands and every
plugin's), so a command added later is covered without editing this file: its options get bad values
by name (``exchange``, ``start`` …) or else by type (int, float, date, path, choice). A new required
option with neither a known name nor a type needs a filler in :data:`FILLERS`, and the test says so.
"""

from __future__ import annotations

import contextlib
import enum
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BAD_DATES = ["2024/01/01", "2024-13-01", "01-01-2024", "yesterday", ""]
BAD_INTS = ["abc", "1.5", "-1"]
BAD_FLOATS = ["abc", "nan", "inf", "-1"]

#: valid values for required options, so that the bad value under test is what fails
FILLERS: dict[str, str] = {
    "exchange": "binance", "market": "spot", "symbols": "BTCUSDT", "symbol": "BTCUSDT", "start": "2024-01-01",
    "end": "2024-01-02", "bar": "time", "interval": "1h", "bars": "time-1h", "task_id": "t-1", "run_id": "r-1",
    "root": "{tmp}/archive", "grid": "{tmp}/grid.yaml", "files": "{tmp}/import.csv",
}

#: bad values by option name (a name here wins over the option's type)
BY_NAME: dict[str, list[str]] = {
    "exchange": ["binanse", ""], "market": ["spt"], "symbols": ["BTC/USDT", ",", "BTCUSDX"],
    "symbol": ["BTC/USDT", "BTCUSDX"], "start": BAD_DATES, "end": [*BAD_DATES, "2023-12-31"],
    "kind": ["trade", "klines2"], "interval": ["1x", "0m", "-1h"], "bar": ["tme"], "bars": ["no-such-spec", "../x"],
    "feature_set": ["nope"], "factors": ["rsi_99"], "columns": ["rsi_99"], "features": ["nope"],
    "group": ["nosuchgroup"], "horizons": ["abc", "0", "1,-2"], "source": ["ftp"], "layout": ["weekly"],
    "quote": ["US D"], "status": ["sleeping"], "log_level": ["loud"], "host": ["256.256.256.256", "2024/01/01"],
    "url": ["notaurl"], "run_id": ["no-such-run", "../../etc"], "task_id": ["no-such-task"],
    # a value PyYAML reads as an impossible date, or as a broken flow collection
    "overrides": ["foo", "engine.nosuch=1", "params.n_long=abc", "start=2024-02-30", "params={"],
    "param": ["novalue", "=1", "threshold=abc", "threshold=2024-02-30", "rsi.window=2024-02-30", "x.y=[1"],
    "params": ["{", "[1]"], "strategy": ["momentum_sl"], "out_spec": ["../x", "a/b"],
    "seed": ["abc", "-1"], "trades_per_day": ["abc", "-1", "0"], "days": ["abc", "-1", "0"], "n": ["abc", "0", "-1"],
    "port": ["abc", "-1", "70000"], "workers": ["abc", "0"], "quantiles": ["abc", "1"], "limit": ["abc", "0"],
    "api_key": ["key-without-server"], "fault": ["boom:*.zip", "404", "404:", "404:*.zip:x", "404:*.zip:-1"],
    "ts_unit": ["m", "ms2"], "ts_format": ["%Q", "%d.%m.%Y"], "timezone": ["Mars/Olympus", ""],
    "name": ["../x", "a/b"],
    # a lake root is a folder or s3://bucket/prefix (a str option: a Path option would mangle the URL)
    "lake_root": ["gs://bucket/lake", "s3://", "s3://bucket/../x", "{under_a_file}"],
    "data_root": ["gs://bucket/demo", "s3://", "{under_a_file}"],
    # a local path or s3://bucket/key (cwd is tmp, where a-file is a regular file)
    "set_file": ["a-file/sub/x.yaml", "s3://", "gs://bucket/set.yaml", "s3://bucket/a/../set.yaml"],
    "report": ["s3://", "gs://bucket/report.html", "s3://bucket/a/../r.html"],
}

#: options whose every value is legitimate, so no bad value exists (kept short and explained)
FREE: set[str] = set()

#: (command, option, value) that is bad elsewhere but valid here: a synthetic archive may be made for
#: any well-formed symbol name, so a symbol absent from every lake is fine for make-archive; an import
#: writes the exchange, market and symbol partitions it is given (any well-formed name)
VALID_HERE = {("exchanges make-archive", "symbols", "BTCUSDX"),
              *{(f"import {kind}", option, value) for kind in ("trades", "bars")
                for option, value in (("exchange", "binanse"), ("market", "spt"), ("symbol", "BTCUSDX"))}}


def _under_a_file(tmp: Path) -> str:
    """A path whose parent is a regular file: it can be neither read nor created."""
    return str(tmp / "a-file" / "sub" / "x.yaml")


def leaf_commands() -> list[tuple[list[str], Any]]:
    import typer.main

    from cde_server.cli.app import build_app

    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    return list(walk(typer.main.get_command(build_app()), []))


def _annotation(param: Any) -> Any:
    return param.type_descriptor.annotation


def bad_values(param: Any, tmp: Path) -> list[str]:
    """The corpus for one option: by name, else by type (empty for flags)."""
    annotation = _annotation(param)
    if annotation is bool or param.name in FREE:
        return []
    if param.name in BY_NAME:
        return [value.replace("{under_a_file}", _under_a_file(tmp)) for value in BY_NAME[param.name]]
    if annotation is int:
        return BAD_INTS
    if annotation is float:
        return BAD_FLOATS
    if annotation is datetime:
        return BAD_DATES
    if annotation is Path or annotation == list[Path]:
        return [_under_a_file(tmp)]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return ["no-such-choice"]
    raise AssertionError(f"option --{param.name} ({annotation}) has no bad values: add them to BY_NAME "
                         "(or to FREE, with the reason every value is valid)")


def _args_for(param: Any, value: str) -> list[str]:
    return [value] if param.param_type_name == "argument" else [param.opts[0], value]


def cases(tmp: Path) -> list[tuple[list[str], str]]:
    """(argv, what is bad) for every option of every command, required options filled validly."""
    out = []
    for path, command in leaf_commands():
        params = [p for p in command.params if p.name != "help"]
        for param in params:
            for value in bad_values(param, tmp):
                if (" ".join(path), param.name, value) in VALID_HERE:
                    continue
                argv = [*path]
                for other in params:
                    if other is param or not other.required:
                        continue
                    if other.name not in FILLERS:
                        raise AssertionError(f"`cde {' '.join(path)}`: required --{other.name} needs a FILLERS entry")
                    argv += _args_for(other, FILLERS[other.name].format(tmp=tmp))
                argv += _args_for(param, value)
                out.append((argv, f"{param.name}={value!r}"))
    return out


@contextlib.contextmanager
def cde_environment(tmp: Path) -> Iterator[None]:
    """An empty lake, no config file, every remote URL a closed local port, no retries."""
    (tmp / "archive").mkdir(exist_ok=True)
    (tmp / "a-file").write_text("not a folder\n")
    (tmp / "import.csv").write_text("ts,price,qty,open,high,low,close,volume\n"  # valid trades and bars
                                    "2024-01-01T00:00:00Z,100,1,100,101,99,100,5\n"
                                    "2024-01-01T00:01:00Z,101,2,100,102,99,101,6\n")
    (tmp / "grid.yaml").write_text("base: {strategy: momentum_ls, bars: time-1h}\ngrid: {params.n_long: [1, 2]}\n")
    env = {"CDE_DATA_ROOT": str(tmp / "lake"), "CDE_DOWNLOAD__RETRIES": "0", "CDE_DOWNLOAD__TIMEOUT_S": "2",
           **{f"CDE_DOWNLOAD__{k}": "http://127.0.0.1:9" for k in
              ("BINANCE_ARCHIVE_URL", "OKX_ARCHIVE_URL", "BINANCE_API_URL", "OKX_API_URL")}}
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("CDE_")]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(tmp)
        yield


def invoke(argv: list[str]) -> tuple[int, str, str]:
    """Run `cde ARGV` in this process (the real entry point's error handling) and capture its output."""
    from cde_server.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(argv, debug=False)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(argv: list[str], code: int, err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    shown = f"`cde {' '.join(argv)}` exited {code}:\n{err}"
    assert code != 0, shown
    assert len(lines) == 1, shown
    assert "internal error" not in err and "Traceback" not in err, shown
    assert "pydantic.dev" not in err and "errors.pydantic" not in err, shown


@pytest.fixture(scope="module")
def bad_cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[list[str], str]]]:
    tmp = tmp_path_factory.mktemp("cli-bad")
    return tmp, cases(tmp)


def test_the_corpus_reaches_every_command(bad_cases) -> None:  # type: ignore[no-untyped-def]
    _, corpus = bad_cases
    commands = leaf_commands()
    covered = {" ".join(path) for argv, _ in corpus for path, _c in commands if argv[: len(path)] == path}
    with_values = {" ".join(path) for path, command in commands
                   if any(_annotation(p) is not bool for p in command.params if p.name != "help")}
    assert with_values <= covered
    assert len(corpus) > 150


def test_every_command_answers_bad_values_with_one_line(bad_cases) -> None:  # type: ignore[no-untyped-def]
    """One loop, not one test per case: a failure lists every offending command at once."""
    tmp, corpus = bad_cases
    failures = []
    with cde_environment(tmp):
        for argv, what in corpus:
            code, _out, err = invoke(argv)
            try:
                assert_one_line_error(argv, code, err)
            except AssertionError as exc:
                failures.append(f"[{what}] {exc}")
    assert not failures, f"{len(failures)} of {len(corpus)} cases:\n\n" + "\n\n".join(failures)


def test_missing_required_options_are_one_line(bad_cases) -> None:  # type: ignore[no-untyped-def]
    tmp, _ = bad_cases
    with cde_environment(tmp):
        for path, command in leaf_commands():
            if any(p.required for p in command.params):
                code, _out, err = invoke(path)
                assert_one_line_error(path, code, err)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.text(min_size=1, max_size=12).filter(lambda s: not s.startswith("-")))
def test_generated_dates_never_pass_silently(tmp_path: Path, raw: str) -> None:
    """Whatever text --start gets: a valid ISO day (then the empty lake is the error) or a one-line error."""
    with cde_environment(tmp_path):
        for argv in (["aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binance", "--market", "spot",
                      "--symbols", "BTCUSDT", "--end", "2024-01-02", "--start", raw],
                     ["universe", "pit", "--end", "2024-01-02", "--start", raw],
                     ["lake", "crosscheck", "--exchange", "binance", "--market", "spot", "--interval", "1m",
                      "--start", raw]):
            code, _out, err = invoke(argv)
            assert_one_line_error(argv, code, err)


#: YAML files the CLI reads, each with an impossible date on line 3 (PyYAML raised a bare ValueError)
YAML_FILES: dict[str, tuple[str, list[str]]] = {
    "run.yaml": ("strategy: momentum_ls\nbars: time-1h\nstart: 2024-02-30\n",
                 ["backtest", "run", "--config", "run.yaml"]),
    "grid.yaml": ("base: {strategy: momentum_ls, bars: time-1h}\ngrid: {params.n_long: [1, 2]}\n"
                  "note: 2023-02-29\n", ["backtest", "sweep", "--grid", "grid.yaml"]),
    "set.yaml": ("name: mine\nfactors:\n  - {factor: rsi, params: {window: 2024-13-01}}\n",
                 ["features", "compute", "--bars", "time-1h", "--set-file", "set.yaml"]),
    "cde.yaml": ("server:\n  port: 8000\nnote: 2024-04-31\n", ["config", "show"]),
}


@pytest.mark.parametrize("name", sorted(YAML_FILES))
def test_an_impossible_date_in_a_yaml_file_names_file_and_line(tmp_path: Path, name: str) -> None:
    """`2024-02-30` looks like a date to YAML: an error naming the file and its line, not an internal error."""
    text, argv = YAML_FILES[name]
    with cde_environment(tmp_path):
        (tmp_path / name).write_text(text)
        code, _out, err = invoke(argv)
    assert_one_line_error(argv, code, err)
    assert f"{name}, line 3" in err and "is not a valid date" in err, err


def test_an_impossible_date_in_an_environment_variable_stops_only_its_section(tmp_path: Path) -> None:
    """CDE_SERVER__PORT=2024-02-30 is a bad server.port (for `serve`), not a crash of every command."""
    with cde_environment(tmp_path), pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDE_SERVER__PORT", "2024-02-30")
        (tmp_path / "lake").mkdir(exist_ok=True)
        code, out, err = invoke(["backtest", "ls", "--json"])
        assert code == 0, err
        assert json.loads(out) == []
        served = invoke(["serve"])
    assert_one_line_error(["serve"], served[0], served[2])
    assert "server.port" in served[2] and "CDE_SERVER__PORT" in served[2], served[2]


@pytest.mark.parametrize(("grid", "expected"), [
    ("metric: sharp\n", r"no metric 'sharp' — did you mean sharpe\?"),
    ("metric: total_retrun\n", r"no metric 'total_retrun' — did you mean total_return"),
])
def test_a_sweep_names_a_misspelt_metric_before_running_the_grid(tmp_path: Path, grid: str, expected: str) -> None:
    """The heat map's metric is checked with the file, not looked up (KeyError) after every run."""
    with cde_environment(tmp_path):
        (tmp_path / "grid.yaml").write_text("base: {strategy: momentum_ls, bars: time-1h}\n"
                                            "grid: {params.n_long: [1, 2]}\n" + grid)
        argv = ["backtest", "sweep", "--grid", "grid.yaml"]
        code, _out, err = invoke(argv)
    assert_one_line_error(argv, code, err)
    assert re.search(expected, err) and "grid.yaml" in err, err
