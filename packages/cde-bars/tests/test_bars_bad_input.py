"""Bad trades and bad parameters are errors that say what and where, never bars built from them.

Every route that builds bars is covered: ``build_bars`` (notebooks), ``aggregate_lake`` over the
trades lake (the error names symbol, day, file and the row in that file) and the builders' own
``update`` (what third-party callers and the REST task use).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from cde_bars_lake import random_day, write_trades_lake

from cde_bars import AggregateRequest, aggregate_lake, build_bars
from cde_bars.catalog import BUILDER_TYPES
from cde_core.errors import CdeError, ConfigError, DataError, SchemaError
from cde_core.lake import Lake, Provenance
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.schemas import TRADES_SCHEMA

DAY = date(2024, 3, 4)
BUILDER_PARAMS = {"time": {"interval": "1m"}, "tick": {"threshold": 50}, "volume": {"threshold": 20.0},
                  "dollar": {"threshold": 2_000.0}}
ALL_BUILDERS = [t.name for t in BUILDER_TYPES]
BAD_VALUES = [("qty", np.nan, "non-finite qty"), ("quote_qty", np.nan, "non-finite quote_qty"),
              ("price", np.nan, "non-finite price"), ("price", np.inf, "non-finite price"),
              ("qty", -np.inf, "non-finite qty"), ("quote_qty", np.inf, "non-finite quote_qty"),
              ("price", -3.0, "non-positive price"), ("price", 0.0, "non-positive price"),
              ("qty", -0.5, "negative qty"), ("quote_qty", -1.0, "negative quote_qty")]


def with_value(table: pa.Table, column: str, row: int, value: float) -> pa.Table:
    values = table.column(column).to_numpy().copy()
    values[row] = value
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.float64()))


def params_of(bar: str) -> dict:
    return BUILDER_PARAMS.get(bar, {"expected_ticks_init": 50, "expected_ticks_min": 10,
                                    "expected_ticks_max": 400})


@pytest.mark.parametrize("bar", ALL_BUILDERS)
@pytest.mark.parametrize(("column", "value", "problem"), BAD_VALUES)
def test_build_bars_refuses_bad_prices_and_quantities(bar: str, column: str, value: float,
                                                      problem: str) -> None:
    trades = with_value(random_day(DAY, 2000, seed=1, first_id=500), column, 1234, value)
    with pytest.raises(DataError) as caught:
        build_bars(trades, bar, **params_of(bar))
    message = str(caught.value)
    assert problem in message and "row 1234" in message and "trade id 1734" in message
    assert "day 2024-03-04" in message


def test_zero_quantity_is_a_trade_not_an_error() -> None:
    trades = with_value(random_day(DAY, 300, seed=2, first_id=0), "qty", 5, 0.0)
    trades = with_value(trades, "quote_qty", 5, 0.0)
    bars = build_bars(trades, "tick", threshold=10)
    assert bars["n_trades"].sum() == 300


def executor() -> LocalExecutor:
    return LocalExecutor(LocalExecutorParams(kind="thread", max_workers=1))


def write_day(lake: Lake, day: date, table: pa.Table) -> Path:
    target = lake.trades_dir("binance", "spot", "BTCUSDT", day)
    lake.write_partition(target, table, Provenance(source="test", rows=table.num_rows))
    return target


def aggregate(lake: Lake, bar: str = "volume") -> None:
    aggregate_lake(AggregateRequest(bar=bar, params=params_of(bar), exchange="binance", market="spot",
                                    symbols=["BTCUSDT"], start=date(2024, 3, 1), end=date(2024, 3, 9),
                                    batch_rows=1024), lake=lake, executor=executor())


@pytest.mark.parametrize(("column", "value", "problem"), BAD_VALUES[:1] + BAD_VALUES[3:4] + BAD_VALUES[-2:-1])
def test_aggregate_lake_names_symbol_day_file_and_row_in_the_file(lake_root: str, column: str, value: float,
                                                                  problem: str) -> None:
    lake = Lake(lake_root)  # on a disk and in a bucket (where the next day is read ahead)
    write_trades_lake(lake, "BTCUSDT", [date(2024, 3, 3)], n=3000)
    bad_day = random_day(DAY, 3000, seed=9, first_id=3001)
    target = write_day(lake, DAY, with_value(bad_day, column, 2500, value))  # third batch of 1024
    with pytest.raises(DataError) as caught:
        aggregate(lake)
    message = str(caught.value)
    assert problem in message and "row 2500" in message and "trade id 5501" in message
    assert "BTCUSDT" in message and "day 2024-03-04" in message and str(target) in message
    assert not list((lake.root / "bars").rglob("*.parquet"))  # nothing half-built looks complete


def test_an_unreadable_day_file_is_named(lake_root: str) -> None:
    from cde_core.atomic import atomic_write_bytes

    lake = Lake(lake_root)
    write_trades_lake(lake, "BTCUSDT", [date(2024, 3, 3), date(2024, 3, 5)], n=500)
    broken = lake.trades_dir("binance", "spot", "BTCUSDT", DAY) / "part-0.parquet"
    atomic_write_bytes(broken, b"PAR1 not really parquet")
    with pytest.raises(DataError, match="unreadable") as caught:
        aggregate(lake)
    assert str(broken) in str(caught.value) and "re-" in (caught.value.hint or "")


def test_unsorted_trades_in_the_lake_name_symbol_day_and_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    write_trades_lake(lake, "BTCUSDT", [date(2024, 3, 3)], n=2000)
    table = random_day(DAY, 2000, seed=4, first_id=2001)
    order = np.arange(2000)
    order[[1500, 1501]] = [1501, 1500]
    target = write_day(lake, DAY, table.take(order))
    with pytest.raises(DataError, match="not in time order") as caught:
        aggregate(lake, "tick")
    message = str(caught.value)
    assert "BTCUSDT" in message and "day 2024-03-04" in message and str(target) in message
    assert "row 1501" in message


def test_a_day_that_starts_before_the_previous_day_ended_names_the_later_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    write_trades_lake(lake, "BTCUSDT", [date(2024, 3, 5)], n=500)
    target = write_day(lake, date(2024, 3, 6), random_day(date(2024, 3, 4), 500, seed=1, first_id=501))
    with pytest.raises(DataError, match="not in time order") as caught:
        aggregate(lake, "tick")
    assert "day 2024-03-06" in str(caught.value) and str(target) in str(caught.value)
    assert "row 0" in str(caught.value)


def frame(n: int = 400) -> pd.DataFrame:
    table = random_day(DAY, n, seed=3, first_id=0)
    return table.to_pandas()


def test_integer_epoch_timestamps_need_their_unit() -> None:
    trades = frame()
    as_ms = trades.assign(ts=trades["ts"].astype("int64") // 1000)  # epoch milliseconds
    with pytest.raises(SchemaError, match="plain integers") as caught:
        build_bars(as_ms, "time", interval="1m")
    assert "ts_unit" in str(caught.value)
    exact = trades.assign(ts=trades["ts"].dt.floor("ms"))
    want = build_bars(exact, "time", interval="1m")
    pd.testing.assert_frame_equal(build_bars(as_ms, "time", interval="1m", ts_unit="ms"), want)
    as_ns = exact.assign(ts=exact["ts"].astype("datetime64[ns, UTC]").astype("int64"))
    pd.testing.assert_frame_equal(build_bars(as_ns, "time", interval="1m", ts_unit="ns"), want)


@pytest.mark.parametrize(("unit", "words"), [("us", "before 2009"), ("ns", "before 2009"),
                                            ("s", "in the future")])
def test_an_epoch_in_the_wrong_unit_is_refused(unit: str, words: str) -> None:
    trades = frame()
    millis = trades.assign(ts=trades["ts"].astype("int64") // 1000)
    with pytest.raises(DataError, match=f"{words} at row 0"):
        build_bars(millis, "tick", threshold=10, ts_unit=unit)


def test_timestamps_before_2009_or_in_the_future_are_refused_even_as_timestamps() -> None:
    trades = frame()
    old = trades.assign(ts=trades["ts"] - pd.Timedelta(days=365 * 20))
    with pytest.raises(DataError, match="before 2009"):
        build_bars(old, "dollar", threshold=1e4)
    late = trades.copy()
    late.loc[300:, "ts"] = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=30)
    with pytest.raises(DataError, match=r"in the future.*row 300"):
        build_bars(late, "dollar", threshold=1e4)


@pytest.mark.parametrize("values", [["2024-03-04 00:00:01"] * 3, [1.5e15] * 3, ["x", "y", "z"]])
def test_timestamps_that_are_not_timestamps_are_a_cde_error(values: list) -> None:
    trades = pd.DataFrame({"ts": values, "price": [1.0] * 3, "qty": [1.0] * 3, "is_buyer_maker": [True] * 3})
    with pytest.raises(SchemaError, match="column 'ts'"):
        build_bars(trades, "tick", threshold=2)


def test_a_column_of_the_wrong_type_is_a_cde_error() -> None:
    trades = frame(10).assign(price=["a"] * 10)
    with pytest.raises(SchemaError, match="column 'price'"):
        build_bars(trades, "tick", threshold=2)


@pytest.mark.parametrize(("bar", "params", "words"), [
    ("dollar", {"treshold": 1e6}, "did you mean threshold"),
    ("dollar", {"threshold": -5}, "bad parameter 'threshold'"),
    ("time", {"interval": "7x"}, "bad parameter 'interval'"),
    ("tick_imbalance", {"ewma_bars": "many"}, "bad parameter 'ewma_bars'"),
    ("volume_run", {"expected_ticks_init": 5, "expected_ticks_min": 10}, "expected_ticks_min <="),
])
def test_bad_parameters_are_one_line_config_errors(bar: str, params: dict, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_bars(frame(50), bar, **params)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert "pydantic" not in str(caught.value)


def test_builder_update_checks_too() -> None:
    from cde_bars.catalog import builder_by_name

    builder = builder_by_name("volume")
    state = builder.new_state({"threshold": 5.0})
    table = with_value(random_day(DAY, 100, seed=5, first_id=0), "qty", 7, np.nan)
    with pytest.raises(CdeError, match="row 7"):
        builder.update(state, table.cast(TRADES_SCHEMA))


def test_build_bars_and_the_lake_agree_on_the_unfinished_last_bar(tmp_path: Path) -> None:
    """One default for both: the bar the data ends in is left out unless asked for (``flush``)."""
    lake = Lake(tmp_path)
    trades = write_trades_lake(lake, "BTCUSDT", [DAY], n=1000)
    report = aggregate_lake(AggregateRequest(bar="tick", params={"threshold": 300}, exchange="binance",
                                             market="spot", symbols=["BTCUSDT"], start=DAY, end=DAY),
                            lake=lake, executor=executor())
    bars = build_bars(trades, "tick", threshold=300)
    assert report.bars == len(bars) == 3
    assert len(build_bars(trades, "tick", threshold=300, flush=True)) == 4


def test_a_threshold_series_per_day_sets_each_days_threshold() -> None:
    """Oracle: each day's bars built on their own with that day's threshold, when every day ends on a
    bar boundary (a bar open at midnight continues under the new day's threshold, as with
    bars_per_day)."""
    days = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 8)]
    tables = [random_day(d, 1200, seed=i, first_id=i * 1200) for i, d in enumerate(days)]
    series = pd.Series([40.0, 100.0], index=pd.to_datetime(["2024-03-05", "2024-03-08"], utc=True))
    got = build_bars(pa.concat_tables(tables), "tick", threshold=30, thresholds=series)
    per_day = {days[0]: 30, days[1]: 40, days[2]: 40, days[3]: 100}  # 1200 trades: whole bars each day
    want = pd.concat([build_bars(t, "tick", threshold=per_day[d]) for d, t in zip(days, tables, strict=True)],
                     ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    assert got["n_trades"].tolist() == [30] * 40 + [40] * 60 + [100] * 12


def test_a_threshold_series_and_bars_per_day_exclude_each_other() -> None:
    with pytest.raises(ConfigError, match="not both"):
        build_bars(frame(50), "dollar", threshold=1e4, bars_per_day=10, thresholds={"2024-03-04": 1e4})
    with pytest.raises(ConfigError, match="not a finite number > 0"):
        build_bars(frame(50), "dollar", threshold=1e4, thresholds={"2024-03-04": -1.0})


TOKYO_MIDNIGHT = pd.Timestamp("2024-03-05", tz="Asia/Tokyo")  # 2024-03-04 15:00 UTC


@pytest.mark.parametrize("bar", ["tick", "volume", "dollar"])
@pytest.mark.parametrize(("thresholds", "words"), [
    (pd.Series([40.0], index=pd.DatetimeIndex([TOKYO_MIDNIGHT])), "2024-03-04 15:00 UTC"),
    ({"2024-03-05T00:00:00+09:00": 40.0}, "2024-03-04 15:00 UTC"),
    (pd.Series([40.0], index=pd.to_datetime(["2024-03-05 12:00"], utc=True)), "2024-03-05 12:00 UTC"),
    ({pd.Timestamp("2024-03-05 06:30"): 40.0}, "2024-03-05 06:30 UTC"),
    (pd.Series([40.0, 90.0], index=pd.to_datetime(["2024-03-05", "2024-03-05"], utc=True)), "twice"),
    ({date(2024, 3, 5): 40.0, "2024-03-05T00:00Z": 90.0}, "twice"),
])
def test_a_threshold_series_key_that_is_no_utc_day_is_refused(bar: str, thresholds: object,
                                                              words: str) -> None:
    """A Tokyo-midnight key applied its threshold from the UTC day before, a noon key from midnight,
    and a second key of the same day silently replaced the first; UTC midnights and dates are days."""
    trades = pa.concat_tables([random_day(DAY, 300, seed=3, first_id=0),
                               random_day(date(2024, 3, 5), 300, seed=4, first_id=300)])
    with pytest.raises(ConfigError) as caught:
        build_bars(trades, bar, threshold=30.0, thresholds=thresholds)
    assert "thresholds" in str(caught.value) and words in str(caught.value)
    assert "\n" not in str(caught.value)
    as_days = [pd.Series([40.0], index=pd.to_datetime(["2024-03-05"], utc=True)),
               {"2024-03-05T00:00:00Z": 40.0}, {pd.Timestamp("2024-03-05"): 40.0}, {"2024-03-05": 40.0}]
    want = build_bars(trades, bar, threshold=30.0, thresholds={date(2024, 3, 5): 40.0})
    assert len(want) != len(build_bars(trades, bar, threshold=30.0))  # the day's threshold matters
    for same in as_days:
        pd.testing.assert_frame_equal(build_bars(trades, bar, threshold=30.0, thresholds=same), want)


def test_a_threshold_series_in_the_lake_resumes_and_matches_one_pass(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    days = [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2)]
    trades = write_trades_lake(lake, "BTCUSDT", days, n=1000)
    params = {"threshold": 5_000.0, "thresholds": {"2024-01-31": 20_000.0, "2024-02-02": 8_000.0}}
    report = aggregate_lake(AggregateRequest(bar="dollar", params=params, exchange="binance", market="spot",
                                             symbols=["BTCUSDT"], start=days[0], end=days[-1],
                                             batch_rows=1024), lake=lake, executor=executor())
    assert report.spec_id.startswith("dollar-days2-init5000-")
    from cde_bars import read_bars

    stored = read_bars(lake, report.spec_id, "binance", "spot", ["BTCUSDT"], index="ts").reset_index()
    want = build_bars(trades, "dollar", **params)
    pd.testing.assert_frame_equal(stored.drop(columns=["symbol"])[want.columns], want)


def test_a_lake_file_with_integer_timestamps_names_symbol_day_and_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    write_trades_lake(lake, "BTCUSDT", [date(2024, 3, 3)], n=500)
    table = random_day(DAY, 500, seed=2, first_id=501)
    table = table.set_column(0, "ts", table.column("ts").cast(pa.int64()))
    target = lake.trades_dir("binance", "spot", "BTCUSDT", DAY)
    target.mkdir(parents=True)
    import pyarrow.parquet as pq

    pq.write_table(table, target / "part-0.parquet")  # as a foreign writer might: no schema check
    with pytest.raises(SchemaError, match="plain integers") as caught:
        aggregate(lake, "tick")
    assert "BTCUSDT" in str(caught.value) and "day 2024-03-04" in str(caught.value)
    assert str(target) in str(caught.value)


def test_build_bars_takes_a_polars_frame_like_pandas_and_names_what_it_cannot_take() -> None:
    """A notebook's own data may be polars (or anything exporting an Arrow stream): the same bars as
    from the pandas frame; it used to fail with "'DataFrame' object has no attribute 'column_names'".
    Something that is no table at all is one SchemaError naming its type."""
    polars = pytest.importorskip("polars")
    trades = random_day(DAY, 2_000, seed=4, first_id=0).to_pandas()
    expected = build_bars(trades, "time", interval="5m")
    pd.testing.assert_frame_equal(build_bars(polars.from_pandas(trades), "time", interval="5m"), expected)
    naive = trades.assign(ts=trades["ts"].dt.tz_localize(None))  # zone-less: UTC, in both libraries
    pd.testing.assert_frame_equal(build_bars(polars.from_pandas(naive), "time", interval="5m"), expected)
    with pytest.raises(SchemaError, match=r"trades are a builtins\.list, not a table"):
        build_bars(trades.to_dict("records"), "time", interval="5m")


@pytest.mark.parametrize(("codes", "shown"), [((1, -1), "-1"), ((1, 2), "2"), ((0.0, 0.5), "0.5")])
def test_build_bars_refuses_a_side_column_that_is_not_zero_one(codes: tuple[float, float],
                                                                shown: str) -> None:
    """A side coded 1/-1 or 1/2 used to be cast to is_buyer_maker = True for every trade (any non-zero
    is True): every trade a taker sell, buy volume 0, silently. Only 0/1 (or true/false) is a flag,
    as in `cde import trades`."""
    trades = random_day(DAY, 500, seed=5, first_id=0).to_pandas()
    as_flags = trades.assign(is_buyer_maker=trades["is_buyer_maker"].astype(int))
    pd.testing.assert_frame_equal(build_bars(as_flags, "time", interval="5m"),
                                  build_bars(trades, "time", interval="5m"))
    coded = trades.assign(is_buyer_maker=np.where(trades["is_buyer_maker"], codes[0], codes[1]))
    first = int(np.flatnonzero(~trades["is_buyer_maker"].to_numpy())[0])  # codes[1] is where it was False
    with pytest.raises(SchemaError, match=rf"'is_buyer_maker' holds {re.escape(shown)} at row {first};"):
        build_bars(coded, "time", interval="5m")


def _float_params() -> list[tuple[str, str]]:
    """(builder, parameter) for every number-valued parameter of every builder."""
    out = []
    for builder in BUILDER_TYPES:
        for name, fld in builder.Params.model_fields.items():
            if fld.annotation in (float, float | None):
                out.append((builder.name, name))
    return out


@pytest.mark.parametrize(("bar", "name"), _float_params())
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_parameter_is_refused_by_name_not_built(bar: str, name: str, value: float) -> None:
    """An infinite threshold built no bar (build_bars: an empty frame; cde aggregate: 'internal
    error: OverflowError' from the spec id); an infinite bars_per_day made every trade a bar."""
    params = {**params_of(bar), name: value}
    if name != "threshold" and bar in ("tick", "volume", "dollar"):
        params.setdefault("threshold", 50.0)
    with pytest.raises(ConfigError) as caught:
        build_bars(frame(50), bar, **params)
    assert f"bad parameter '{name}'" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("bar", ["tick", "volume", "dollar"])
@pytest.mark.parametrize("extra", [{}, {"thresholds": {"2024-03-04": 40.0}}])
def test_window_days_without_bars_per_day_is_refused_not_ignored(bar: str, extra: dict) -> None:
    """window_days=3 alone built fixed-threshold bars, silently, as if no dynamic threshold was asked."""
    with pytest.raises(ConfigError) as caught:
        build_bars(frame(50), bar, threshold=30.0, window_days=3, **extra)
    assert "bad parameter 'window_days'" in str(caught.value) and "bars_per_day" in str(caught.value)
    dynamic = build_bars(frame(50), bar, threshold=30.0, window_days=3, bars_per_day=5.0)
    fixed = build_bars(frame(50), bar, threshold=30.0, window_days=7)  # the default, said out loud
    pd.testing.assert_frame_equal(fixed, build_bars(frame(50), bar, threshold=30.0))
    assert len(dynamic) == len(fixed)  # one day: the dynamic threshold has no history yet
