"""``cde import bars``: derived columns by hand, grid and order checks naming the line, all or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cde_core.errors import CdeError
from cde_core.lake import Lake
from cde_exchanges.importing.bar_import import BarImportRequest, import_bars
from cde_exchanges.importing.import_timestamps import TimeOptions

HEADER = "time,o,h,l,c,v"
ROWS = ["2024-01-01 00:00,10,12,9,11,2", "2024-01-01 01:00,11,13,10,12,0", "2024-01-01 03:00,12,12,11,11.5,4"]
COLUMNS = {"ts": "time", "open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}


def write(tmp_path: Path, rows: list[str], name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def run(tmp_path: Path, files: list[Path], **options: object) -> object:
    request = BarImportRequest(files=files, exchange="me", market="spot", symbol="AAA", columns=COLUMNS,
                               time=TimeOptions(), **options)  # type: ignore[arg-type]
    return import_bars(request, Lake(tmp_path / "lake"))


def test_derived_columns_and_the_grid(tmp_path: Path) -> None:
    report = run(tmp_path, [write(tmp_path, ROWS)])
    assert report.spec == "imported-1h" and report.bars == 3  # type: ignore[attr-defined]
    table = pq.read_table(tmp_path / "lake" / "bars" / "spec=imported-1h" / "exchange=me" / "market=spot"
                          / "symbol=AAA" / "month=2024-01" / "part-0.parquet").to_pandas()
    typical = np.array([(12 + 9 + 11) / 3, (13 + 10 + 12) / 3, (12 + 11 + 11.5) / 3])
    assert np.allclose(table["quote_volume"], [2 * typical[0], 0, 4 * typical[2]])
    assert np.allclose(table["vwap"], typical) and np.allclose(table["buy_volume"], [1, 0, 2])
    assert (table["n_trades"] == 0).all()
    starts = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00"], utc=True)
    assert (table["period_start"] == starts).all() and (table["ts"] == starts).all()
    assert (table["ts_close"] == starts + pd.Timedelta("1h") - pd.Timedelta("1us")).all()
    provenance = Lake.read_provenance(tmp_path / "lake" / "bars" / "spec=imported-1h" / "exchange=me"
                                      / "market=spot" / "symbol=AAA" / "month=2024-01")
    assert provenance is not None and "buy_volume" in provenance.extra["imported"]["derived"]


@pytest.mark.parametrize(("rows", "words"), [
    ([ROWS[0], "2024-01-01 01:00,11,10,10.5,12,1"], r"line 3: .*low must be ≤ open, close ≤ high"),
    ([ROWS[1], ROWS[0]], r"line 3: .*does not come after"),
    ([ROWS[0], ROWS[0]], r"line 3: .*does not come after"),
    ([ROWS[0], "2024-01-01 01:30,11,13,10,12,0"], r"line 3: .*not on the 1h grid"),
    ([ROWS[0], "2024-01-01 01:00,nan,13,10,12,0"], r"line 3: empty value \(or NaN\) in column 'o'"),
    ([ROWS[0], "2024-01-01 01:00,11,13,10,12,-1"], r"line 3: v is -1.0"),
])
def test_bad_bars_are_named_and_nothing_is_written(tmp_path: Path, rows: list[str], words: str) -> None:
    with pytest.raises(CdeError, match=words) as caught:
        run(tmp_path, [write(tmp_path, rows)], interval="1h")
    assert "bars.csv" in str(caught.value)
    assert not list((tmp_path / "lake").rglob("*.parquet"))


def test_a_column_the_file_offers_twice_is_refused_not_picked(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("ts,open,high,low,close,volume,Close\n2024-01-01 00:00,10,12,9,11,2,12\n")
    request = BarImportRequest(files=[path], exchange="me", market="spot", symbol="AAA", time=TimeOptions())
    with pytest.raises(CdeError, match=r"line 1: columns 'close' and 'Close' could each be close.*bars.csv"):
        import_bars(request, Lake(tmp_path / "lake"))
    assert not list((tmp_path / "lake").rglob("*.parquet"))


def test_existing_bars_are_kept_unless_forced(tmp_path: Path) -> None:
    run(tmp_path, [write(tmp_path, ROWS)])
    with pytest.raises(CdeError, match=r"already has bars.*--force"):
        run(tmp_path, [write(tmp_path, ROWS[:2], "other.csv")])
    run(tmp_path, [write(tmp_path, ROWS[:2], "other.csv")], force=True)
    assert len(pq.read_table(tmp_path / "lake" / "bars" / "spec=imported-1h").to_pandas()) == 2


def test_daily_bars_with_dates(tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow as pa

    days = [dt.date(2024, 1, 30) + dt.timedelta(days=k) for k in range(4)]
    path = tmp_path / "daily.parquet"
    pq.write_table(pa.table({"time": pa.array(days, pa.date32()), "o": [1.0, 2, 3, 4], "h": [2.0, 3, 4, 5],
                             "l": [0.5, 1, 2, 3], "c": [2.0, 3, 4, 5], "v": [1.0, 1, 1, 1]}), path)
    report = run(tmp_path, [path])
    assert report.spec == "imported-1d" and report.months == ["2024-01", "2024-02"]  # type: ignore[attr-defined]
    text = write(tmp_path, ["2024-01-30,1,2,0.5,2,1", "2024-01-31,2,3,1,3,1"], "daily.csv")
    assert run(tmp_path, [text], name="daily-csv").spec == "imported-daily-csv"  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_forced_reimport_drops_the_months_it_does_not_cover(where: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    lake = Lake(tmp_path / "lake" if where == "local" else request.getfixturevalue("s3_lake_url"))
    two_months = ["2024-01-31 23:00,10,12,9,11,2", "2024-02-01 00:00,11,13,10,12,1"]
    options = {"files": [write(tmp_path, two_months)], "exchange": "me", "market": "spot", "symbol": "AAA",
               "columns": COLUMNS, "time": TimeOptions(), "interval": "1h"}
    assert import_bars(BarImportRequest(**options), lake).months == ["2024-01", "2024-02"]  # type: ignore[arg-type]
    options["files"] = [write(tmp_path, two_months[:1], "january.csv")]
    assert import_bars(BarImportRequest(**options, force=True), lake).months == ["2024-01"]  # type: ignore[arg-type]
    folder = lake.bars_dir("imported-1h", "me", "spot", "AAA")
    months = sorted(p.parent.name for p in folder.glob("month=*/part-0.parquet"))
    assert months == ["month=2024-01"]
    assert lake.dataset("bars", subpath="spec=imported-1h").to_table().num_rows == 1


def test_a_symbol_one_slip_from_one_under_the_spec_is_refused(tmp_path: Path) -> None:
    run(tmp_path, [write(tmp_path, ROWS)])  # me / spot / AAA under imported-1h
    request = BarImportRequest(files=[write(tmp_path, ROWS)], exchange="me", market="spot", symbol="aaa",
                               columns=COLUMNS, time=TimeOptions())
    with pytest.raises(CdeError, match=r"symbol 'aaa' is not in the lake, but AAA is.*--new-name"):
        import_bars(request, Lake(tmp_path / "lake"))
    assert not (tmp_path / "lake" / "bars" / "spec=imported-1h" / "exchange=me" / "market=spot" / "symbol=aaa").exists()
    import_bars(request.model_copy(update={"new_name": True}), Lake(tmp_path / "lake"))
    import_bars(request.model_copy(update={"symbol": "BBB"}), Lake(tmp_path / "lake"))  # far from AAA: taken
