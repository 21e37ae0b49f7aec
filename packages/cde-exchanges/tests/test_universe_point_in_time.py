"""Point-in-time universe from hand-built lakes, checked against a slow, obvious reference."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cde_core.errors import ConfigError, NotFoundError
from cde_core.lake import Lake, Provenance
from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.fakes.simulation import MarketSpec, simulate_day
from cde_exchanges.universe.daily_volume import daily_quote_volumes
from cde_exchanges.universe.point_in_time import point_in_time_universe, rank_by_trailing_volume, rebalance_dates

EX, MKT = "binance", "spot"
D0 = date(2024, 1, 1)


def trades_with_quote_volume(total: float, rows: int = 3) -> pa.Table:
    """A tiny canonical trades table whose quote_qty sums to ``total`` (integers: exact sums)."""
    quote = np.full(rows, total / rows)
    price = np.full(rows, 10.0)
    return pa.Table.from_arrays(
        [pa.array(np.arange(rows) * 1_000_000 + 1_704_067_200_000_000, type=pa.int64()).cast(TRADES_SCHEMA[0].type),
         pa.array(np.arange(rows, dtype=np.int64)), pa.array(price), pa.array(quote / price), pa.array(quote),
         pa.array(np.zeros(rows, dtype=bool))], schema=TRADES_SCHEMA)


def write(lake: Lake, symbol: str, day: date, total: float, **extra: float) -> None:
    table = trades_with_quote_volume(total)
    lake.write_partition(lake.trades_dir(EX, MKT, symbol, day), table,
                         Provenance(source="test", rows=table.num_rows, extra=extra))


@pytest.fixture(scope="module")
def built_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """20 days: AAA large throughout; BBB delisted after day 9; CCC listed on day 8 and huge;
    DDD small with gaps; EEE every other day; another market that must be ignored."""
    lake = Lake(tmp_path_factory.mktemp("built") / "lake")
    for i in range(20):
        day = D0 + timedelta(days=i)
        write(lake, "AAAUSDT", day, 1000 + 10 * i)
        if i <= 9:
            write(lake, "BBBUSDT", day, 900 - 5 * i)
        if i >= 8:
            write(lake, "CCCUSDT", day, 5000)
        if i % 3 != 0:
            write(lake, "DDDUSDT", day, 300 + i)
        if i % 2 == 0:
            write(lake, "EEEUSDT", day, 600)
    other = lake.trades_dir(EX, "um", "ZZZUSDT", D0 + timedelta(days=5))
    lake.write_partition(other, trades_with_quote_volume(1e12), Provenance(source="test", rows=3))
    return lake


@pytest.fixture
def lake(built_lake: Lake, tmp_path: Path) -> Lake:
    """A private copy of the built lake (tests may add partitions)."""
    shutil.copytree(built_lake.root, tmp_path / "lake")
    return Lake(tmp_path / "lake")


def reference_universe(lake: Lake, n: int, as_of: list[date], lookback: int) -> pd.DataFrame:
    """Slow and obvious: for every as-of date, for every symbol folder, read every day in the window."""
    rows = []
    base = lake.root / "trades" / f"exchange={EX}" / f"market={MKT}"
    for day in as_of:
        totals = {}
        for folder in sorted(base.glob("symbol=*")):
            symbol = folder.name.split("=")[1]
            seen, total = False, 0.0
            for back in range(1, lookback + 1):
                part = folder / f"date={(day - timedelta(days=back)).isoformat()}" / "part-0.parquet"
                if part.exists():
                    seen = True
                    total += float(pq.read_table(part).to_pandas()["quote_qty"].sum())
            if seen:
                totals[symbol] = total
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        rows += [(day, symbol, rank, volume) for rank, (symbol, volume) in enumerate(ranked, start=1)]
    return pd.DataFrame(rows, columns=["date", "symbol", "rank", "trailing_quote_volume"])


@pytest.mark.parametrize(("n", "lookback", "rebalance"), [(2, 7, "daily"), (3, 3, "daily"), (10, 7, "weekly"),
                                                         (1, 1, "daily"), (4, 5, "monthly")])
def test_matches_the_slow_reference(lake: Lake, n: int, lookback: int, rebalance: str) -> None:
    start, end = D0, D0 + timedelta(days=22)
    got = point_in_time_universe(lake, EX, MKT, n, start, end, lookback_days=lookback, rebalance=rebalance)
    expected = reference_universe(lake, n, rebalance_dates(start, end, rebalance), lookback)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    assert list(got.columns) == ["date", "symbol", "rank", "trailing_quote_volume"]


def test_no_survivorship_bias_symbols_enter_with_data_and_leave_after_it(lake: Lake) -> None:
    got = point_in_time_universe(lake, EX, MKT, 10, D0, D0 + timedelta(days=25), lookback_days=3)
    members = got.groupby("date")["symbol"].apply(set)
    assert D0 not in members.index  # nothing before the first partition
    ccc_first = min(d for d, s in members.items() if "CCCUSDT" in s)
    assert ccc_first == D0 + timedelta(days=9)  # listed day 8 → visible from day 9
    bbb_last = max(d for d, s in members.items() if "BBBUSDT" in s)
    assert bbb_last == D0 + timedelta(days=12)  # last data day 9, 3-day window → as of day 12
    assert all("ZZZUSDT" not in s for s in members)  # other market
    last = members[D0 + timedelta(days=20)]
    assert "BBBUSDT" not in last and "CCCUSDT" in last


def test_no_look_ahead_the_day_itself_and_later_never_count(lake: Lake) -> None:
    start, end = D0 + timedelta(days=2), D0 + timedelta(days=15)
    before = point_in_time_universe(lake, EX, MKT, 3, start, end)
    spike = D0 + timedelta(days=10)
    write(lake, "FFFUSDT", spike, 1e9)  # new symbol, enormous volume on day 10 only
    after = point_in_time_universe(lake, EX, MKT, 3, start, end)
    unaffected = before["date"] <= spike
    pd.testing.assert_frame_equal(after[after["date"] <= spike].reset_index(drop=True),
                                  before[unaffected].reset_index(drop=True))
    assert (after[after["date"] > spike].groupby("date")["symbol"].first() == "FFFUSDT").all()


@pytest.fixture(params=["local", "s3"])
def empty_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """An empty lake root: a local folder, or ``s3://<fresh bucket>/lake`` on the loopback S3 server."""
    return tmp_path if request.param == "local" else str(request.getfixturevalue("s3_lake_url"))


def test_ties_break_by_symbol(empty_root: Path | str) -> None:
    lake = Lake(empty_root)
    for symbol in ("BBBUSDT", "AAAUSDT", "CCCUSDT"):
        write(lake, symbol, D0, 100)
    got = point_in_time_universe(lake, EX, MKT, 2, D0 + timedelta(days=1), D0 + timedelta(days=1))
    assert list(got["symbol"]) == ["AAAUSDT", "BBBUSDT"] and list(got["rank"]) == [1, 2]


def test_daily_volume_uses_the_provenance_total_when_the_writer_stored_one(empty_root: Path | str) -> None:
    lake = Lake(empty_root)
    write(lake, "AAAUSDT", D0, 300)
    write(lake, "BBBUSDT", D0, 300, quote_volume=123.0)  # trusted, so the column is not read
    got = daily_quote_volumes(lake, EX, MKT).set_index("symbol")["quote_volume"]
    assert got.to_dict() == {"AAAUSDT": 300.0, "BBBUSDT": 123.0}


def test_rebalance_schedules() -> None:
    assert rebalance_dates(date(2024, 1, 3), date(2024, 1, 16), "weekly") == [
        date(2024, 1, 3), date(2024, 1, 8), date(2024, 1, 15)]
    assert rebalance_dates(date(2024, 1, 15), date(2024, 3, 1), "monthly") == [
        date(2024, 1, 15), date(2024, 2, 1), date(2024, 3, 1)]
    assert len(rebalance_dates(date(2024, 1, 1), date(2024, 12, 31), "daily")) == 366


def test_errors(tmp_path: Path, lake: Lake) -> None:
    with pytest.raises(NotFoundError):
        point_in_time_universe(Lake(tmp_path / "empty"), EX, MKT, 5, D0, D0)
    with pytest.raises(ConfigError):
        point_in_time_universe(lake, EX, MKT, 5, D0 + timedelta(days=3), D0)


def test_on_a_simulated_lake_with_a_listing_and_a_delisting(tmp_path: Path) -> None:
    spec = MarketSpec(symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"], start=D0,
                      end=D0 + timedelta(days=29), seed=5, trades_per_day=300, quote_volume_decades=1.0,
                      listings={"DOGEUSDT": D0 + timedelta(days=12)},
                      delistings={"SOLUSDT": D0 + timedelta(days=18)})
    lake = Lake(tmp_path)
    for symbol in spec.symbols:
        for day in spec.trading_days(symbol):
            table = simulate_day(spec, symbol, day)
            lake.write_partition(lake.trades_dir(EX, MKT, symbol, day), table,
                                 Provenance(source="simulation", rows=table.num_rows))
    start, end = D0 + timedelta(days=1), spec.end
    got = point_in_time_universe(lake, EX, MKT, 3, start, end, lookback_days=5)
    expected = reference_universe(lake, 3, rebalance_dates(start, end, "daily"), 5)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False, rtol=1e-12)
    pools = got.groupby("date")["symbol"].apply(frozenset)
    assert len(set(pools)) > 1  # the pool changes over the month


def test_cli_pit_json_and_parquet_out(lake: Lake, tmp_path: Path) -> None:
    import typer

    from cde_exchanges.universe.cli import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "universe.parquet"
    args = ["universe", "pit", "--start", "2024-01-05", "--end", "2024-01-20", "--n", "2", "--rebalance",
            "weekly", "--data-root", str(lake.root), "--out", str(out)]
    shown = CliRunner().invoke(app, [*args, "--json"])
    assert shown.exit_code == 0, shown.output
    expected = point_in_time_universe(lake, EX, MKT, 2, date(2024, 1, 5), date(2024, 1, 20), rebalance="weekly")
    records = json.loads(shown.stdout)  # the partial-window warning goes to stderr: stdout stays JSON
    assert shown.stderr.startswith("warning: 1 as-of date(s) up to 2024-01-05 rank on fewer than 7 days"), \
        shown.stderr
    assert [(r["date"], r["symbol"], r["rank"]) for r in records] == [
        (d.isoformat(), s, r) for d, s, r in zip(expected["date"], expected["symbol"], expected["rank"],
                                                 strict=True)]
    written = pq.read_table(out)
    assert written.schema.field("date").type == pa.date32()
    assert written.to_pandas()["symbol"].tolist() == expected["symbol"].tolist()
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "2024-01-08" in table.output and "CCCUSDT AAAUSDT" in table.output


@settings(max_examples=150, deadline=None)
@given(cells=st.dictionaries(st.tuples(st.integers(0, 15), st.sampled_from(["A", "B", "C", "D"])),
                             st.integers(0, 4), max_size=40),
       as_of_offsets=st.lists(st.integers(0, 20), min_size=1, max_size=6, unique=True),
       n=st.integers(1, 4), lookback=st.integers(1, 6))
def test_ranking_property_against_a_loop(cells: dict[tuple[int, str], int], as_of_offsets: list[int], n: int,
                                         lookback: int) -> None:
    """Random sparse daily volumes with many ties and zero-volume days vs a plain Python loop."""
    daily = pd.DataFrame([(D0 + timedelta(days=d), s, float(v)) for (d, s), v in cells.items()],
                         columns=["date", "symbol", "quote_volume"])
    as_of = sorted(D0 + timedelta(days=o) for o in as_of_offsets)
    got = rank_by_trailing_volume(daily, as_of, n, lookback)
    rows = []
    for day in as_of:
        window = {s: 0.0 for (d, s) in cells if day - timedelta(days=lookback) <= D0 + timedelta(days=d) < day}
        for (d, s), v in cells.items():
            if s in window and day - timedelta(days=lookback) <= D0 + timedelta(days=d) < day:
                window[s] += v
        ranked = sorted(window.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        rows += [(day, s, r, v) for r, (s, v) in enumerate(ranked, start=1)]
    expected = pd.DataFrame(rows, columns=["date", "symbol", "rank", "trailing_quote_volume"])
    assert list(got.itertuples(index=False, name=None)) == list(expected.itertuples(index=False, name=None))


def test_cli_pit_warns_when_windows_reach_past_the_lake(lake: Lake) -> None:
    """The lake's trades end 2024-01-20: as-of dates from 01-22 rank on fewer days (from 01-28 on none),
    which looks like a full universe unless said; a range inside the lake gets no warning."""
    import typer

    from cde_exchanges.universe.cli import register

    app = typer.Typer()
    register(app)
    base = ["universe", "pit", "--n", "2", "--data-root", str(lake.root), "--json"]
    late = CliRunner().invoke(app, [*base, "--start", "2024-01-15", "--end", "2024-02-10"])
    assert late.exit_code == 0, late.output
    assert json.loads(late.stdout)
    assert late.stderr.strip() == (
        "warning: 20 as-of date(s) from 2024-01-22 rank on a trailing window past the lake's last day of trades "
        "(2024-01-20); from 2024-01-28 they have no rows: download the later days, or end the range at 2024-01-21")
    inside = CliRunner().invoke(app, [*base, "--start", "2024-01-08", "--end", "2024-01-21"])
    assert inside.exit_code == 0 and inside.stderr == "", inside.output


def test_cli_pit_warns_when_a_window_holds_days_the_lake_has_no_trades_of_on_any_symbol(lake: Lake) -> None:
    """Days 10–12 deleted for every symbol (a download gap inside the lake): the universes whose window
    holds them rank on fewer days, which reads as a full trailing volume unless said; one symbol's gap
    (DDD, EEE) is that symbol not trading and says nothing."""
    import typer

    from cde_exchanges.universe.cli import register

    base = lake.root / "trades" / f"exchange={EX}" / f"market={MKT}"
    for day in ("2024-01-11", "2024-01-12", "2024-01-13"):
        for folder in base.glob(f"symbol=*/date={day}"):
            shutil.rmtree(folder)
    app = typer.Typer()
    register(app)
    cli = ["universe", "pit", "--n", "2", "--data-root", str(lake.root), "--json", "--lookback-days", "3"]
    hit = CliRunner().invoke(app, [*cli, "--start", "2024-01-10", "--end", "2024-01-20"])
    assert hit.exit_code == 0, hit.output
    assert hit.stderr.strip() == (
        "warning: 5 as-of date(s) from 2024-01-12 rank on a trailing window with day(s) the lake holds no trades of "
        "any symbol on (2024-01-11, 2024-01-12, 2024-01-13), counted as zero volume: download those days "
        "(`cde download --exchange binance --market spot --start 2024-01-11 --end 2024-01-13`)")
    clear = CliRunner().invoke(app, [*cli, "--start", "2024-01-17", "--end", "2024-01-20"])
    assert clear.exit_code == 0 and clear.stderr == "", clear.output


def test_cli_pit_out_writes_the_format_its_suffix_names_and_refuses_others(lake: Lake, tmp_path: Path) -> None:
    """--out pool.csv used to hold Parquet bytes (garbage to any CSV reader); each format now round-trips
    to the same universe, and a suffix naming no format is refused before anything is written."""
    import typer

    from cde_core.errors import ConfigError
    from cde_exchanges.universe.cli import register

    app = typer.Typer()
    register(app)
    args = ["universe", "pit", "--start", "2024-01-08", "--end", "2024-01-20", "--n", "3", "--data-root",
            str(lake.root)]
    expected = point_in_time_universe(lake, EX, MKT, 3, date(2024, 1, 8), date(2024, 1, 20))
    readers = {"u.parquet": lambda p: pd.read_parquet(p), "u.PQ": lambda p: pd.read_parquet(p),
               "u.csv": lambda p: pd.read_csv(p), "u.json": lambda p: pd.DataFrame(json.loads(p.read_text()))}
    for name, read in readers.items():
        shown = CliRunner().invoke(app, [*args, "--out", str(tmp_path / name)])
        assert shown.exit_code == 0, shown.output
        got = read(tmp_path / name)
        assert [str(d)[:10] for d in got["date"]] == [d.isoformat() for d in expected["date"]], name
        assert got["symbol"].tolist() == expected["symbol"].tolist(), name
        assert got["rank"].tolist() == expected["rank"].tolist(), name
        assert got["trailing_quote_volume"].tolist() == expected["trailing_quote_volume"].tolist(), name
    refused = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "u.txt")])
    assert isinstance(refused.exception, ConfigError)
    assert "suffix '.txt'" in str(refused.exception) and ".csv or .json" in refused.exception.hint
    assert not (tmp_path / "u.txt").exists()
