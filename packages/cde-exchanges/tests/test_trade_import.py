"""``cde import trades``: every option on synthetic files against what was written, the tick rule
against a slow loop, bad files with their one-line error, and all-or-nothing writes."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.errors import CdeError
from cde_core.lake import Lake
from cde_exchanges.importing.import_timestamps import TimeOptions
from cde_exchanges.importing.tick_rule import TickRule
from cde_exchanges.importing.trade_import import TradeImportRequest, import_trades
from cde_exchanges.lake.inventory import inventory, verify

START_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
DAY_US = 86_400_000_000


def synthetic_trades(n: int = 3000, days: float = 2.5, seed: int = 3) -> pd.DataFrame:
    """Trades in time order over ``days`` days, with repeated prices (so the tick rule has ties) and
    millisecond times (so every unit below represents them exactly)."""
    rng = np.random.default_rng(seed)
    ts = np.sort(START_US + rng.integers(0, int(days * DAY_US / 1000), n) * 1000)
    price = 100 + np.round(np.cumsum(rng.choice([-0.5, 0.0, 0.0, 0.5], n)), 1)
    qty = np.round(rng.uniform(0.001, 3, n), 3)
    maker = rng.random(n) < 0.5
    return pd.DataFrame({"ts_us": ts, "price": price, "qty": qty, "maker": maker,
                         "id": np.arange(500, 500 + n)})


def tick_rule_loop(prices: list[float]) -> list[bool]:
    """The tick rule as its definition reads, one trade at a time (the oracle)."""
    out, side, last = [], 1, None
    for p in prices:
        if last is not None and p > last:
            side = 1
        elif last is not None and p < last:
            side = -1
        out.append(side < 0)
        last = p
    return out


def lake_trades(root: Path) -> pd.DataFrame:
    parts = sorted((root / "trades").rglob("part-0.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)


def run(root: Path, files: list[Path], **options: object) -> object:
    time = options.pop("time", TimeOptions())
    request = TradeImportRequest(files=files, exchange="vendor", market="spot", symbol="XYZ",
                                 time=time, **options)  # type: ignore[arg-type]
    return import_trades(request, Lake(root))


def expected_ts(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(pd.to_datetime(frame["ts_us"], unit="us", utc=True).to_numpy(), name="ts")


@pytest.mark.parametrize(("unit", "scale"), [("s", 1e-6), ("ms", 1e-3), ("us", 1), ("ns", 1000)])
def test_epoch_units(tmp_path: Path, unit: str, scale: float) -> None:
    trades = synthetic_trades()
    epoch = trades["ts_us"] * scale if unit == "s" else (trades["ts_us"] * scale).astype(np.int64)
    path = tmp_path / "t.csv"
    pd.DataFrame({"time": epoch, "price": trades.price, "qty": trades.qty}).to_csv(
        path, index=False, float_format="%.6f" if unit == "s" else None)
    run(tmp_path / "lake", [path], columns={"ts": "time"}, time=TimeOptions(unit=unit))  # type: ignore[arg-type]
    got = lake_trades(tmp_path / "lake")
    pd.testing.assert_series_equal(got["ts"].dt.as_unit("us").reset_index(drop=True),
                                   expected_ts(trades).dt.as_unit("us"), check_names=False)
    assert np.allclose(got["price"], trades["price"]) and np.allclose(got["qty"], trades["qty"])
    assert np.allclose(got["quote_qty"], trades["price"] * trades["qty"])


def test_numeric_times_without_a_unit_are_refused(tmp_path: Path) -> None:
    trades = synthetic_trades(50)
    path = tmp_path / "t.csv"
    pd.DataFrame({"ts": trades.ts_us // 1000, "price": trades.price, "qty": trades.qty}).to_csv(path, index=False)
    with pytest.raises(CdeError) as caught:
        run(tmp_path / "lake", [path])
    message = str(caught.value)
    assert "line 2" in message and "t.csv" in message and "--ts-unit" in message
    assert not (tmp_path / "lake" / "trades").exists() or not list((tmp_path / "lake").rglob("*.parquet"))


def test_a_wrong_unit_is_caught_by_the_date_range(tmp_path: Path) -> None:
    trades = synthetic_trades(50)
    path = tmp_path / "t.csv"
    pd.DataFrame({"ts": trades.ts_us // 1000, "price": trades.price, "qty": trades.qty}).to_csv(path, index=False)
    with pytest.raises(CdeError, match=r"line 2: .*before 2009.*--ts-unit"):
        run(tmp_path / "lake", [path], time=TimeOptions(unit="us"))


def test_text_times_in_a_timezone_and_with_offsets(tmp_path: Path) -> None:
    trades = synthetic_trades(400, days=1.5)
    utc = pd.to_datetime(trades.ts_us, unit="us", utc=True)
    local = utc.dt.tz_convert("America/New_York")
    naive = tmp_path / "naive.csv"
    pd.DataFrame({"when": local.dt.strftime("%Y/%m/%d %H:%M:%S.%f"), "price": trades.price,
                  "qty": trades.qty}).to_csv(naive, index=False)
    run(tmp_path / "a", [naive], columns={"ts": "when"}, time=TimeOptions(timezone="America/New_York"))
    offsets = tmp_path / "offsets.csv"
    pd.DataFrame({"ts": local.map(lambda t: t.isoformat()), "price": trades.price, "qty": trades.qty}).to_csv(
        offsets, index=False)
    run(tmp_path / "b", [offsets])
    layout = tmp_path / "layout.csv"
    pd.DataFrame({"ts": utc.dt.strftime("%d.%m.%Y %H:%M:%S.%f"), "price": trades.price, "qty": trades.qty}).to_csv(
        layout, index=False)
    run(tmp_path / "c", [layout], time=TimeOptions(format="%d.%m.%Y %H:%M:%S.%f"))
    for root in ("a", "b", "c"):
        got = lake_trades(tmp_path / root)
        assert (got["ts"].astype("int64") // 1 == expected_ts(trades).astype("int64")).all(), root


def test_csv_gz_and_parquet_give_the_same_partitions_as_csv(tmp_path: Path) -> None:
    trades = synthetic_trades()
    frame = pd.DataFrame({"Time": pd.to_datetime(trades.ts_us, unit="us"), "Price": trades.price,
                          "Size": trades.qty, "Maker": trades.maker, "Id": trades.id})
    columns = {"ts": "Time", "price": "Price", "qty": "Size", "is_buyer_maker": "Maker", "trade_id": "Id"}
    plain = tmp_path / "t.csv"
    frame.assign(Time=frame.Time.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")).to_csv(plain, index=False)
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(frame.assign(Time=frame.Time.astype("datetime64[ns]")), preserve_index=False),
                   parquet, row_group_size=700)
    tables = []
    for name, path in (("csv", plain), ("gz", packed), ("pq", parquet)):
        run(tmp_path / name, [path], columns=columns)
        tables.append(lake_trades(tmp_path / name))
        assert all(c.ok for c in verify(Lake(tmp_path / name)))
        (item,) = inventory(Lake(tmp_path / name))
        assert item.rows == len(trades) and item.days == 3
    for other in tables[1:]:
        pd.testing.assert_frame_equal(tables[0], other)
    got = tables[0]
    assert (got["is_buyer_maker"].to_numpy() == trades["maker"].to_numpy()).all()
    assert (got["trade_id"].to_numpy() == trades["id"].to_numpy()).all()
    assert (got["ts"] == expected_ts(trades)).all()


def test_side_column_is_the_takers_side(tmp_path: Path) -> None:
    trades = synthetic_trades(200)
    path = tmp_path / "t.csv"
    side = np.where(trades.maker, "SELL", "buy")
    pd.DataFrame({"ts": trades.ts_us, "price": trades.price, "qty": trades.qty, "side": side}).to_csv(path, index=False)
    run(tmp_path / "lake", [path], time=TimeOptions(unit="us"))
    assert (lake_trades(tmp_path / "lake")["is_buyer_maker"].to_numpy() == trades.maker.to_numpy()).all()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"ts": trades.ts_us[:5], "price": trades.price[:5], "qty": trades.qty[:5],
                  "side": ["buy", "sell", "hold", "buy", "buy"]}).to_csv(bad, index=False)
    with pytest.raises(CdeError, match=r"line 4: side is 'hold'"):
        run(tmp_path / "lake2", [bad], time=TimeOptions(unit="us"))


def test_tick_rule_and_generated_ids_over_several_files_and_days(tmp_path: Path) -> None:
    trades = synthetic_trades(5000, days=3.2)
    files = []
    for k, (a, b) in enumerate(((0, 1200), (1200, 3900), (3900, len(trades)))):
        part = trades.iloc[a:b]
        path = tmp_path / f"part{k}.csv"
        pd.DataFrame({"ts": part.ts_us, "price": part.price, "qty": part.qty}).to_csv(path, index=False)
        files.append(path)
    report = run(tmp_path / "lake", files, time=TimeOptions(unit="us"), first_trade_id=1000)
    got = lake_trades(tmp_path / "lake")
    assert got["is_buyer_maker"].tolist() == tick_rule_loop(trades["price"].tolist())
    assert got["trade_id"].tolist() == list(range(1000, 1000 + len(trades)))
    assert "tick rule" in report.is_buyer_maker and "generated" in report.trade_id  # type: ignore[attr-defined]
    provenance = Lake.read_provenance(Path(report.days[0].path))  # type: ignore[attr-defined]
    assert provenance is not None and "tick rule" in provenance.extra["imported"]["is_buyer_maker"]
    assert provenance.created_by == "cde import" and provenance.checksum is not None
    assert all(c.ok for c in verify(Lake(tmp_path / "lake")))
    (item,) = inventory(Lake(tmp_path / "lake"))
    assert item.rows == len(trades) and item.boundary_gaps == 0 and item.id_gaps == 0


def test_tick_rule_does_not_depend_on_how_the_stream_is_cut() -> None:
    prices = synthetic_trades(2000)["price"].to_numpy()
    whole = TickRule().is_buyer_maker(prices)
    rule = TickRule()
    pieces = [rule.is_buyer_maker(prices[a:b]) for a, b in ((0, 1), (1, 7), (7, 7), (7, 1500), (1500, 2000))]
    assert (np.concatenate(pieces) == whole).all()
    assert whole.tolist() == tick_rule_loop(prices.tolist())


def test_given_ids_with_a_gap_are_recorded(tmp_path: Path) -> None:
    trades = synthetic_trades(300, days=0.5)
    ids = trades.id.to_numpy().copy()
    ids[100:] += 5
    path = tmp_path / "t.csv"
    pd.DataFrame({"ts": trades.ts_us, "trade_id": ids, "price": trades.price, "qty": trades.qty,
                  "is_buyer_maker": trades.maker}).to_csv(path, index=False)
    report = run(tmp_path / "lake", [path], time=TimeOptions(unit="us"))
    assert report.days[0].validation["gaps"] == 1 and report.days[0].validation["missing_ids"] == 5  # type: ignore[attr-defined]


def _bad_csv(tmp_path: Path, rows: list[str], header: str = "ts,price,qty") -> Path:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD = [f"{START_US + i * 1000},{100 + i},{1.5}" for i in range(6)]


@pytest.mark.parametrize(("rows", "words"), [
    ([*GOOD[:3], f"{START_US + 9000},abc,1", *GOOD[3:]], "line 5: .*abc"),
    ([*GOOD[:2], f"{START_US + 9000},nan,1", *GOOD[3:]], r"line 4: empty value \(or NaN\) in column 'price'"),
    ([*GOOD[:2], f"{START_US + 9000},-3,1", *GOOD[3:]], "line 4: price is -3.0, not a positive"),
    ([*GOOD[:2], f"{START_US + 9000},100,", *GOOD[3:]], r"line 4: empty value \(or NaN\) in column 'qty'"),
    ([GOOD[0], GOOD[3], GOOD[1], GOOD[2]], "line 4: time goes backwards.*sort the rows"),
])
def test_bad_lines_are_named_and_nothing_is_written(tmp_path: Path, rows: list[str], words: str) -> None:
    good = tmp_path / "good.csv"
    good.write_text("ts,price,qty\n" + f"{START_US - DAY_US},99,1\n")
    path = _bad_csv(tmp_path, rows)
    with pytest.raises(CdeError) as caught:
        run(tmp_path / "lake", [good, path], time=TimeOptions(unit="us"))
    message = str(caught.value)
    assert re.search(words, message) and "bad.csv" in message
    assert "fix or remove that row" in message or "sort the rows" in message
    assert "exchange" not in message and "nothing of this import was written" in message
    assert "\n" not in message
    assert not list((tmp_path / "lake").rglob("*.parquet")) and not list((tmp_path / "lake").rglob(".*"))


def test_files_out_of_order_name_the_second_file(tmp_path: Path) -> None:
    late = _bad_csv(tmp_path, GOOD[3:])
    early = tmp_path / "early.csv"
    early.write_text("ts,price,qty\n" + "\n".join(GOOD[:3]) + "\n")
    with pytest.raises(CdeError, match=r"line 2: time goes backwards.*\(early.csv\)"):
        run(tmp_path / "lake", [late, early], time=TimeOptions(unit="us"))


def test_parquet_nan_price_names_the_row(tmp_path: Path) -> None:
    trades = synthetic_trades(100)
    price = trades.price.to_numpy().copy()
    price[41] = np.nan
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"ts": pa.array(trades.ts_us, pa.timestamp("us", tz="UTC")), "price": price,
                             "qty": trades.qty}), path, row_group_size=30)
    with pytest.raises(CdeError, match=r"row 42 of the file: price is nan.*t.parquet"):
        run(tmp_path / "lake", [path])


def test_missing_columns_name_the_nearest_and_the_files_columns(tmp_path: Path) -> None:
    path = _bad_csv(tmp_path, GOOD, header="Time,Price,Qty")
    with pytest.raises(CdeError, match=r"no column for ts.*--columns ts=<column>.*Time, Price, Qty"):
        run(tmp_path / "lake", [path], time=TimeOptions(unit="us"))
    with pytest.raises(CdeError, match=r"no column 'Tme'.*did you mean 'Time'"):
        run(tmp_path / "lake", [path], columns={"ts": "Tme"}, time=TimeOptions(unit="us"))


@pytest.mark.parametrize(("header", "words"), [
    ("ts,price,qty,price", r"line 1: column 'price' \(price\) appears 2 times \(columns 2, 4\)"),
    ("ts,price,qty,ts", r"line 1: column 'ts' \(ts\) appears 2 times \(columns 1, 4\)"),
    ("ts,price,qty,PRICE", r"line 1: columns 'price' and 'PRICE' could each be price.*--columns price=<column>"),
    ("TS,price,Ts,qty", r"line 1: columns 'TS' and 'Ts' could each be ts"),
])
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_column_the_file_offers_twice_is_refused_not_picked(tmp_path: Path, header: str, words: str,
                                                              kind: str) -> None:
    """Two columns that could each play a role (the same name twice, or names that differ in case only)
    hold two answers; taking either one silently was the fault (the first 'price', or 'PRICE')."""
    names = header.split(",")
    values = {"ts": START_US, "price": 100.0, "qty": 1.5}
    row = [values[name.lower()] * (2 if i > 1 and name.lower() == "price" else 1) for i, name in enumerate(names)]
    if kind == "csv":
        path = _bad_csv(tmp_path, [",".join(str(int(v)) if v == START_US else str(v) for v in row)], header=header)
    else:
        path = tmp_path / "bad.parquet"
        pq.write_table(pa.Table.from_arrays([pa.array([v]) for v in row], names=names), path)
    with pytest.raises(CdeError, match=words) as caught:
        run(tmp_path / "lake", [path], time=TimeOptions(unit="us"))
    assert path.name in str(caught.value)
    assert not list((tmp_path / "lake").rglob("*.parquet"))


def test_days_in_the_lake_are_kept_unless_forced(tmp_path: Path) -> None:
    path = _bad_csv(tmp_path, GOOD)
    run(tmp_path / "lake", [path], time=TimeOptions(unit="us"))
    before = lake_trades(tmp_path / "lake")
    changed = _bad_csv(tmp_path, [row.replace(",1.5", ",2.5") for row in GOOD])
    with pytest.raises(CdeError, match=r"already in the lake.*--force"):
        run(tmp_path / "lake", [changed], time=TimeOptions(unit="us"))
    pd.testing.assert_frame_equal(lake_trades(tmp_path / "lake"), before)
    run(tmp_path / "lake", [changed], time=TimeOptions(unit="us"), force=True)
    assert (lake_trades(tmp_path / "lake")["qty"] == 2.5).all()
    assert all(c.ok for c in verify(Lake(tmp_path / "lake")))


def test_a_bad_line_deep_in_a_gz_file_is_named_exactly_and_progress_is_reported(tmp_path: Path) -> None:
    """Several 1 MiB pieces: the line number counts across them (and across blank lines), and progress
    rises to 1."""
    trades = synthetic_trades(120_000, days=1.5)
    lines = [f"{t},{100 + (i % 7) / 10},{q}" for i, (t, q) in enumerate(zip(trades.ts_us, trades.qty, strict=True))]
    lines.insert(30_000, "")  # a blank line the parser skips but the count keeps
    lines[90_000] = lines[90_000].rsplit(",", 1)[0] + ",-0.5"
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(("ts,price,qty\n" + "\n".join(lines) + "\n").encode()))
    with pytest.raises(CdeError, match=r"line 90002: qty is -0.5.*big.csv.gz"):
        run(tmp_path / "lake", [path], time=TimeOptions(unit="us"))
    lines[90_000] = lines[90_000].rsplit(",", 1)[0] + ",0.5"
    path.write_bytes(gzip.compress(("ts,price,qty\n" + "\n".join(lines) + "\n").encode()))
    seen: list[float] = []
    request = TradeImportRequest(files=[path], exchange="vendor", market="spot", symbol="XYZ",
                                 time=TimeOptions(unit="us"))
    report = import_trades(request, Lake(tmp_path / "lake"), progress=lambda f, m: seen.append(f))
    assert report.rows == len(trades) and len(report.days) == 2
    assert len(seen) > 2 and seen == sorted(seen) and seen[-1] == 1.0


def test_a_failed_import_stops_its_reader_threads_and_the_cli_exits_1(tmp_path: Path) -> None:
    """An error raised while the CSV reader is suspended (here: a wrong --ts-unit, found by the import,
    not the reader) used to leave the reader's threads running until interpreter exit, where a daemon
    thread inside Arrow aborted the process: ``terminate called without an active exception``, exit 134
    instead of 1, about one run in three. The reader is now closed before the error leaves, and the CLI
    frees what cycles still hold before the interpreter's teardown (that alone was one run in fifteen)."""
    import os
    import subprocess
    import sys

    trades = synthetic_trades(200_000, days=1.5)  # several 1 MiB pieces: the reader thread waits, full
    path = tmp_path / "ms.csv"
    pd.DataFrame({"ts": trades.ts_us // 1000, "price": trades.price, "qty": trades.qty}).to_csv(path, index=False)
    env = {**os.environ, "CDE_DATA_ROOT": str(tmp_path / "lake")}
    for _ in range(6):  # the abort was a race: six runs caught it in >90 % of test runs
        done = subprocess.run([sys.executable, "-m", "cde_server.cli.main", "import", "trades", str(path),
                               "--exchange", "vendor", "--market", "spot", "--symbol", "XYZ", "--ts-unit", "us"],
                              capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 1 and "terminate called" not in done.stderr, (done.returncode, done.stderr)
        assert done.stderr.count("\n") == 1 and "before 2009" in done.stderr, done.stderr


def test_kill_9_mid_import_leaves_nothing_visible_and_the_rerun_clears_its_temporary_files(tmp_path: Path) -> None:
    """A real ``cde import`` SIGKILLed while it writes: no partition appears (all or nothing), the earlier
    good day stays, the re-run imports everything and removes the dead import's hidden temporary files
    (they used to stay for ever, a day's worth of Parquet each), but not a live writer's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    lake_root = tmp_path / "lake"
    earlier = _bad_csv(tmp_path, GOOD)
    run(lake_root, [earlier], time=TimeOptions(unit="us"))  # an earlier good day (2024-01-01)
    before = lake_trades(lake_root)
    trades = synthetic_trades(1_500_000, days=2.0)
    trades["ts_us"] += 3 * DAY_US  # 2024-01-04 … 2024-01-05
    trades["price"] = 100 + (np.arange(len(trades)) % 7) / 10  # the random walk reaches 0 over so many trades
    path = tmp_path / "big.csv"
    pd.DataFrame({"ts": trades.ts_us, "price": trades.price, "qty": trades.qty}).to_csv(path, index=False)
    symbol_dir = Lake(lake_root).trades_dir("vendor", "spot", "XYZ", before["ts"].iloc[0].date()).parent
    live = symbol_dir / "date=2024-01-04" / f".part-0.parquet.tmp-{os.getpid()}-cafe0000"  # a live writer's
    live.parent.mkdir(parents=True)
    live.write_bytes(b"being written")
    command = [sys.executable, "-m", "cde_server.cli.main", "import", "trades", str(path), "--exchange", "vendor",
               "--market", "spot", "--symbol", "XYZ", "--ts-unit", "us"]
    env = {**os.environ, "CDE_DATA_ROOT": str(lake_root)}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def temps() -> list[Path]:
        return [p for p in symbol_dir.rglob(".part-0.parquet.tmp-*") if p != live]

    while not temps() and child.poll() is None:  # kill it once it is writing a day
        time.sleep(0.01)
    assert child.poll() is None, "the import finished before it could be killed: make the file bigger"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    left = temps()
    assert left and all(str(child.pid) in p.name for p in left)
    assert sorted(p.parent.name for p in symbol_dir.glob("*/part-0.parquet")) == ["date=2024-01-01"]
    pd.testing.assert_frame_equal(lake_trades(lake_root), before)
    assert all(c.ok for c in verify(Lake(lake_root)))

    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert temps() == [] and live.exists()
    days = sorted({f"date={d}" for d in pd.to_datetime(trades.ts_us, unit="us", utc=True).dt.date})
    assert sorted(p.parent.name for p in symbol_dir.glob("*/part-0.parquet")) == ["date=2024-01-01", *days]
    assert len(lake_trades(lake_root)) == len(before) + len(trades)
    live.unlink()
    assert all(c.ok for c in verify(Lake(lake_root)))


@pytest.mark.parametrize(("names", "words"), [
    ({"symbol": "XZY"}, r"symbol 'XZY' is not in the lake, but XYZ is.*--symbol XYZ.*--new-name"),
    ({"symbol": "xyz"}, r"symbol 'xyz' is not in the lake, but XYZ is"),
    ({"market": "sopt"}, r"market 'sopt' is not in the lake, but spot is.*--market spot"),
    ({"exchange": "vendro"}, r"exchange 'vendro' is not in the lake, but vendor is"),
    ({"symbol": "XYZW"}, r"symbol 'XYZW' is not in the lake, but XYZ is"),
], ids=["swapped", "case", "market", "exchange", "one-more"])
def test_a_new_name_one_slip_from_one_in_the_lake_is_refused(tmp_path: Path, names: dict[str, str],
                                                             words: str) -> None:
    """Was: a misspelt symbol (or exchange, market) silently started a second series beside the real one."""
    lake_root = tmp_path / "lake"
    run(lake_root, [_bad_csv(tmp_path, GOOD)], time=TimeOptions(unit="us"))  # vendor / spot / XYZ
    later = [f"{START_US + DAY_US + i * 1000},{100 + i},{1.5}" for i in range(3)]
    request = {"exchange": "vendor", "market": "spot", "symbol": "XYZ", **names}
    path = _bad_csv(tmp_path, later)
    with pytest.raises(CdeError, match=words):
        import_trades(TradeImportRequest(files=[path], time=TimeOptions(unit="us"), **request), Lake(lake_root))
    assert [p.parent.name for p in (lake_root / "trades").rglob("part-0.parquet")] == ["date=2024-01-01"]
    import_trades(TradeImportRequest(files=[path], time=TimeOptions(unit="us"), new_name=True, **request),
                  Lake(lake_root))  # meant: --new-name
    assert len(list((lake_root / "trades").rglob("part-0.parquet"))) == 2


def test_new_names_far_from_the_lake_s_are_imported_as_they_are(tmp_path: Path) -> None:
    lake_root = tmp_path / "lake"
    run(lake_root, [_bad_csv(tmp_path, GOOD)], time=TimeOptions(unit="us"))  # vendor / spot / XYZ
    for i, names in enumerate(({"symbol": "ES"}, {"market": "futures"}, {"exchange": "cme"})):
        rows = [f"{START_US + (i + 1) * DAY_US + j * 1000},{100 + j},{1.5}" for j in range(3)]
        request = {"exchange": "vendor", "market": "spot", "symbol": "XYZ", **names}
        import_trades(TradeImportRequest(files=[_bad_csv(tmp_path, rows)], time=TimeOptions(unit="us"), **request),
                      Lake(lake_root))
    assert len(list((lake_root / "trades").rglob("part-0.parquet"))) == 4
