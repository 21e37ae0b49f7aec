"""Commands that read the lake answer "nothing there" with what was missing and the nearest names,
exit non-zero; `lake ls` on a missing or empty lake says where it looked; tables piped print whole
values; a bad section of cde.yaml only stops the commands that use it. Real `cde` processes."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from cde_core.lake import Lake, Provenance
from cde_exchanges.fakes.synthetic_trades import random_trades

DAYS = [date(2024, 1, 1), date(2024, 1, 2)]


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trades of BTCUSDT and ETHUSDT on two days, 1 h bars built by `cde aggregate`."""
    root = tmp_path_factory.mktemp("lake")
    lake = Lake(root)
    for k, symbol in enumerate(("BTCUSDT", "ETHUSDT")):
        first = 1
        for day in DAYS:
            table = random_trades(day, 2000, seed=k, first_id=first)
            lake.write_partition(lake.trades_dir("binance", "spot", symbol, day), table,
                                 Provenance(source="test", rows=2000, first_trade_id=first,
                                            last_trade_id=first + 1999))
            first += 2000
    return root


def one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


def test_aggregate_then_features_happy_path_exit_zero(run_cde, lake_root: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"CDE_DATA_ROOT": str(lake_root)}
    built = run_cde("aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binance", "--market", "spot",
                    "--symbols", "BTCUSDT,ETHUSDT", "--start", "2024-01-01", "--end", "2024-01-02", env=env)
    assert built.returncode == 0, built.stderr
    assert "48 bars" in built.stdout or "built" in built.stdout


@pytest.mark.parametrize(("argv", "expected"), [
    (["aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binance", "--market", "spot",
      "--symbols", "BTCUSDX", "--start", "2024-01-01", "--end", "2024-01-02"], r"no symbol 'BTCUSDX'.*BTCUSDT"),
    (["aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binanse", "--market", "spot",
      "--symbols", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-02"], r"no exchange 'binanse'.*binance"),
    (["aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binance", "--market", "spot",
      "--symbols", "BTCUSDT", "--start", "2025-01-01", "--end", "2025-01-02"],
     r"no trades of BTCUSDT from 2025-01-01.*2024-01-01 … 2024-01-02"),
    (["lake", "ls", "--symbol", "ETHUSD"], r"no symbol 'ETHUSD'.*ETHUSDT"),
    (["lake", "ls", "--market", "usdm"], r"no market 'usdm'"),
    (["lake", "verify", "--exchange", "okk"], r"no exchange 'okk'"),
    (["lake", "crosscheck", "--exchange", "binance", "--market", "spot", "--interval", "1m", "--symbols", "BTCUSD"],
     r"no symbol 'BTCUSD'.*BTCUSDT"),
    (["universe", "pit", "--start", "2024-01-02", "--end", "2024-01-03", "--market", "spt"], r"no market 'spt'.*spot"),
    (["universe", "pit", "--start", "2025-01-02", "--end", "2025-01-03"], r"2024-01-01 … 2024-01-02"),
    (["features", "compute", "--bars", "time-1hh"], r"no bars spec 'time-1hh'"),
    (["backtest", "run", "--strategy", "trend_following", "--set", "bars=time-1h", "--set", "symbols=[BTCUSDX]"],
     r"no (symbol 'BTCUSDX'|bars spec)"),
])
def test_a_command_that_finds_nothing_names_what_is_missing(run_cde, lake_root: Path, argv, expected) -> None:  # type: ignore[no-untyped-def]
    line = one_error_line(run_cde(*argv, env={"CDE_DATA_ROOT": str(lake_root)}))
    assert re.search(expected, line), line


def test_lake_ls_on_a_missing_or_empty_lake_says_where_it_looked(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nowhere"
    line = one_error_line(run_cde("lake", "ls", env={"CDE_DATA_ROOT": str(missing)}))
    assert str(missing) in line and "does not exist" in line and "CDE_DATA_ROOT" in line and "data_root" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_error_line(run_cde("lake", "ls", "--json", env={"CDE_DATA_ROOT": str(empty)}))
    assert str(empty) in line and "no downloaded data" in line and "--config" in line


def test_a_bad_server_port_does_not_break_lake_ls(run_cde, lake_root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cde.yaml").write_text(f"data_root: {lake_root}\nserver:\n  port: 99999999\n")
    listed = run_cde("lake", "ls", "--json", env={"CDE_DATA_ROOT": str(lake_root)})
    assert listed.returncode == 0, listed.stderr
    assert {row["symbol"] for row in json.loads(listed.stdout)} == {"BTCUSDT", "ETHUSDT"}
    served = one_error_line(run_cde("serve", env={"CDE_DATA_ROOT": str(lake_root)}))
    assert "server.port" in served and "cde.yaml" in served


def test_piped_tables_print_whole_values(run_cde) -> None:  # type: ignore[no-untyped-def]
    """stdout is a pipe here: every strategy summary (longer than 80 columns allow) appears whole."""
    shown = run_cde("backtest", "strategies")
    listed = json.loads(run_cde("backtest", "strategies", "--json").stdout)
    assert shown.returncode == 0
    flat = shown.stdout.replace("\n", " ")
    for entry in listed:
        assert entry["summary"] in shown.stdout, (entry["summary"], flat)
    assert "…" not in shown.stdout


def hourly_bars(run_cde, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """time-1h bars of both symbols (`cde aggregate`; up to date after the first call)."""
    built = run_cde("aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binance", "--market", "spot",
                    "--symbols", "BTCUSDT,ETHUSDT", "--start", "2024-01-01", "--end", "2024-01-02", env=env)
    assert built.returncode == 0, built.stderr


@pytest.mark.parametrize(("overrides", "expected"), [
    # a 672-bar momentum on 48 bars: the factor is NaN on every bar
    (["--strategy", "momentum_ls"], r"momentum_ls took no position on any of the 48 bars.*flat 0 %.*lookback"),
    # more assets asked for than symbols
    (["--strategy", "momentum_ls", "--set", "params.lookback=2"], r"took no position.*n_long \+ n_short"),
    # a rule that never fires
    (["--strategy", "signal_ts", "--set", "params.signal=rule", "--set", "params.params={long_when: ['close < 0']}"],
     r"signal_ts took no position.*never fires"),
    # weights, but no weekly rebalance bar inside two days
    (["--strategy", "momentum_ls", "--set", "params.lookback=2", "--set", "params.n_long=1",
      "--set", "params.n_short=1"], r"none was filled.*engine.rebalance"),
])
def test_a_backtest_that_never_holds_a_position_is_an_error_not_zero_percent(
        run_cde, lake_root: Path, overrides: list[str], expected: str) -> None:  # type: ignore[no-untyped-def]
    env = {"CDE_DATA_ROOT": str(lake_root)}
    hourly_bars(run_cde, env)
    result = run_cde("backtest", "run", "--set", "bars=time-1h", *overrides, "--json", env=env)
    line = one_error_line(result)
    assert re.search(expected, line), line
    assert result.stdout == ""
    assert not (lake_root / "runs").exists() or not any((lake_root / "runs").glob("*/metrics.json"))


def test_a_backtest_on_part_of_what_it_asked_for_says_so(run_cde, lake_root: Path) -> None:  # type: ignore[no-untyped-def]
    """A range past the lake's last bar and a feature set of 1 of 2 symbols run, with a notice for each
    (in --json too), instead of silently describing less data than asked for."""
    env = {"CDE_DATA_ROOT": str(lake_root)}
    hourly_bars(run_cde, env)
    features = run_cde("features", "compute", "--bars", "time-1h", "-s", "BTCUSDT", "-f", "rsi",
                       "--out-spec", "rsi-btc-only", env=env)
    assert features.returncode == 0, features.stderr
    trend = ["backtest", "run", "--strategy", "trend_following", "--set", "bars=time-1h", "--set", "params.fast=2",
             "--set", "params.slow=4"]
    ranged = run_cde(*trend, "--set", "start=2024-01-01", "--set", "end=2024-01-10", env=env)
    assert ranged.returncode == 0, ranged.stderr
    assert re.search(r"notice: the bars end at 2024-01-02 23:00 UTC, before the requested end 2024-01-11",
                     ranged.stdout), ranged.stdout
    joined = run_cde(*trend, "--set", "features=rsi-btc-only", "--json", env=env)
    assert joined.returncode == 0, joined.stderr
    notices = json.loads(joined.stdout)["notices"]
    assert any(re.search(r"rsi-btc-only has no rows for 1 of 2 symbols \(ETHUSDT\)", n) for n in notices), notices
    whole = run_cde(*trend, "--set", "start=2024-01-01", "--set", "end=2024-01-02", "--json", env=env)
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["notices"] == []


def test_features_compute_says_what_the_range_did_not_give(run_cde, lake_root: Path) -> None:  # type: ignore[no-untyped-def]
    """A range past the bars and a column NaN on every row (672-bar lookback on 48 bars) are notices
    beside "wrote N rows", not a spec that silently looks complete."""
    env = {"CDE_DATA_ROOT": str(lake_root)}
    hourly_bars(run_cde, env)
    wide = run_cde("features", "compute", "--bars", "time-1h", "-f", "rsi,ret_log_672", "--start", "2023-12-30",
                   "--end", "2024-01-05", "--out-spec", "wide-range", env=env)
    assert wide.returncode == 0, wide.stderr
    notices = [line for line in wide.stdout.splitlines() if line.startswith("notice: ")]
    assert any("start on 2024-01-01, after --start 2023-12-30" in n for n in notices), wide.stdout
    assert any("end on 2024-01-02, before --end 2024-01-05" in n for n in notices), wide.stdout
    assert any(re.search(r"2 of 4 columns are NaN on every row .*: ret_log_672, rsi_168$", n) for n in notices), \
        wide.stdout
    exact = run_cde("features", "compute", "--bars", "time-1h", "-f", "rsi_14", "--start", "2024-01-01",
                    "--end", "2024-01-02", "--out-spec", "exact-range", env=env)
    assert exact.returncode == 0, exact.stderr
    assert "notice:" not in exact.stdout, exact.stdout


def test_a_narrower_features_rerun_never_drops_rows_already_computed(run_cde, lake_root: Path) -> None:  # type: ignore[no-untyped-def]
    """Each symbol's features file is rewritten whole: "compute the last day" over a spec holding two
    days replaced them with one, exit 0 and "wrote N rows". It is refused naming the rows held, the
    file is left as it was, and a run over the held range or wider still writes."""
    import pyarrow.parquet as pq

    env = {"CDE_DATA_ROOT": str(lake_root)}
    hourly_bars(run_cde, env)
    base = ("features", "compute", "--bars", "time-1h", "-f", "rsi_14", "--out-spec", "held")
    first = run_cde(*base, "--start", "2024-01-01", "--end", "2024-01-02", env=env)
    assert first.returncode == 0, first.stderr
    part = lake_root / "features/spec=held/exchange=binance/market=spot/symbol=BTCUSDT/part-0.parquet"
    rows = pq.read_metadata(part).num_rows
    assert rows == 48
    for span in (("--start", "2024-01-02", "--end", "2024-01-02"), ("--start", "2024-01-01", "--end", "2024-01-01")):
        line = one_error_line(run_cde(*base, *span, env=env))
        assert re.search(r"features of (BTC|ETH)USDT in spec held already hold 2024-01-01 00:00 … 2024-01-02 23:00 "
                         r"UTC; this run over .* would replace them with fewer rows", line), line
        assert "compute 2024-01-01 … 2024-01-02 to extend them" in line, line
        assert pq.read_metadata(part).num_rows == rows
    again = run_cde(*base, "--start", "2024-01-01", "--end", "2024-01-02", env=env)
    assert again.returncode == 0, again.stderr
    whole = run_cde(*base, env=env)  # no range: every bar, never fewer rows
    assert whole.returncode == 0, whole.stderr
    assert pq.read_metadata(part).num_rows == rows


@pytest.mark.parametrize(("overrides", "expected"), [
    (["symbols=[]"], r"'symbols'.*an empty list selects no symbol"),
    (["universe={'2024-02-30': [BTCUSDT]}"], r"universe date '2024-02-30' is not a valid YYYY-MM-DD day"),
    (["universe={'2024-01-01': [BTCUSDT, ETHUSDX]}"], r"no symbol 'ETHUSDX'.*ETHUSDT"),
    (["symbols=[BTCUSDT]", "universe={'2024-01-01': [BTCUSDT, ETHUSDT]}"],
     r"universe member\(s\) ETHUSDT not among the run's symbols"),
])
def test_an_empty_or_misspelt_selection_of_symbols_is_an_error(run_cde, lake_root: Path, overrides: list[str],
                                                               expected: str) -> None:  # type: ignore[no-untyped-def]
    """`symbols: []` is not "every symbol"; a universe's misspelt member or impossible date is not dropped."""
    env = {"CDE_DATA_ROOT": str(lake_root)}
    hourly_bars(run_cde, env)
    sets = [arg for item in overrides for arg in ("--set", item)]
    line = one_error_line(run_cde("backtest", "run", "--strategy", "trend_following", "--set", "bars=time-1h",
                                  "--set", "params.fast=2", "--set", "params.slow=4", *sets, env=env))
    assert re.search(expected, line), line


def test_aggregate_names_the_days_without_trades(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A day missing in the middle and days past the lake build fewer bars than asked: a warning on
    stderr names them (stdout stays JSON), not only a day count to compare by hand."""
    root = tmp_path / "gappy"
    lake = Lake(root)
    first = 1
    for day in (date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 4)):  # 2024-01-02 missing
        lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", day), random_trades(day, 500, seed=3,
                             first_id=first), Provenance(source="test", rows=500, first_trade_id=first,
                                                         last_trade_id=first + 499))
        first += 500
    built = run_cde("aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binance", "--market", "spot",
                    "--symbols", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-06", "--json",
                    env={"CDE_DATA_ROOT": str(root)})
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["symbols"][0]["missing_days"] == ["2024-01-02", "2024-01-05", "2024-01-06"]
    assert built.stderr.strip() == ("warning: BTCUSDT: no trades on 3 of 6 days asked, so no bars there: "
                                    "2024-01-02, 2024-01-05 … 2024-01-06 (see `cde lake ls`)")
    gap = one_error_line(run_cde("aggregate", "--bar", "time", "--interval", "1h", "--exchange", "binance",
                                 "--market", "spot", "--symbols", "BTCUSDT", "--start", "2024-01-02", "--end",
                                 "2024-01-02", env={"CDE_DATA_ROOT": str(root)}))
    assert "the lake holds 2024-01-01 … 2024-01-04 but not these days (a gap" in gap, gap


def test_demo_refuses_too_few_days_for_its_backtest_before_writing(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The demo's momentum needs 4 weeks of history and a weekly rebalance after them: 30 days could only
    end in a refused flat run after generating and processing a market, so --days is refused up front."""
    root = tmp_path / "demo"
    line = one_error_line(run_cde("demo", "--data-root", str(root), "--days", "30", "--symbols", "4",
                                  "--trades-per-day", "200"))
    assert "--days" in line and "37" in line, line
    assert not root.exists() or not any(root.rglob("*.zip")), sorted(root.rglob("*"))
