"""Atomic writes, provenance, partition paths and schema validation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.atomic import atomic_path, atomic_write_bytes, remove_stale_temps
from cde_core.errors import DataError, SchemaError
from cde_core.lake import Lake, Provenance
from cde_core.parquet_encoding import write_parquet
from cde_core.schemas import BARS_SCHEMA, TRADES_SCHEMA, is_sorted, validate_table


def trades(n: int = 5) -> pa.Table:
    return pa.table({
        "ts": pa.array([1_700_000_000_000_000 + i for i in range(n)], pa.int64()).cast(TRADES_SCHEMA.field("ts").type),
        "trade_id": pa.array(range(10, 10 + n), pa.int64()),
        "price": pa.array([100.0 + i for i in range(n)]),
        "qty": pa.array([1.0] * n),
        "quote_qty": pa.array([100.0 + i for i in range(n)]),
        "is_buyer_maker": pa.array([i % 2 == 0 for i in range(n)]),
    })


def test_writer_raising_midway_leaves_previous_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"good")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_parquet_writer_raising_midway_leaves_no_partition(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    folder = lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 1))
    bad = trades().append_column("oops", pa.array([1] * 5))
    with pytest.raises(ValueError, match="schema"), atomic_path(folder / "part-0.parquet") as tmp:
        writer = pq.ParquetWriter(tmp, bad.schema)
        writer.write_table(bad)
        writer.write_table(trades())  # schema mismatch mid-file
    assert not (folder / "part-0.parquet").exists()
    assert [p for p in folder.iterdir()] == []


def test_stale_temps_from_a_killed_writer_are_removed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".part-0.parquet.tmp-123-abcd").write_bytes(b"x")
    (tmp_path / "a" / "part-0.parquet").write_bytes(b"y")
    assert remove_stale_temps(tmp_path) == 1
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["part-0.parquet"]


def test_partition_round_trip_keeps_provenance_and_reads_as_hive_dataset(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    table = trades()
    for day in (date(2024, 1, 1), date(2024, 1, 2)):
        prov = Provenance(source=f"http://x/{day}", checksum="ab" * 32, rows=5, first_trade_id=10, last_trade_id=14)
        lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", day), table, prov)
    got = lake.read_provenance(lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 2)))
    assert got is not None and got.source == "http://x/2024-01-02" and got.rows == 5
    data = lake.dataset("trades").to_table()
    assert data.num_rows == 10
    assert set(data.column("symbol").to_pylist()) == {"BTCUSDT"}
    assert len(lake.trades_files("binance", "spot", "BTCUSDT", start=date(2024, 1, 2))) == 1
    assert lake.symbols("binance", "spot") == ["BTCUSDT"]


@pytest.mark.parametrize("bad", ["../etc", "/abs", "a/b", "..", "", "%2e%2e"])
def test_partition_values_cannot_escape_the_lake(tmp_path: Path, bad: str) -> None:
    with pytest.raises(DataError):
        Lake(tmp_path).trades_dir("binance", "spot", bad, date(2024, 1, 1))
    with pytest.raises(DataError):
        Lake(tmp_path).run_dir(bad)


def test_validate_accepts_canonical_trades() -> None:
    table = trades()
    assert validate_table(table, TRADES_SCHEMA, where="t") is table


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t: t.drop(["qty"]), "missing column 'qty'"),
    (lambda t: t.set_column(2, "price", t.column("price").cast(pa.float32())), "column 'price' has type float"),
    (lambda t: t.set_column(1, "trade_id", pa.array([1, None, 3, 4, 5], pa.int64())), "1 null value"),
    (lambda t: t.select(["trade_id", "ts", "price", "qty", "quote_qty", "is_buyer_maker"]), "position"),
    (lambda t: t.append_column("extra", pa.array([1] * 5)), "unexpected column(s) extra"),
])
def test_validation_names_the_column_and_problem(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SchemaError) as info:
        validate_table(mutate(trades()), TRADES_SCHEMA, where="part-0.parquet")
    assert message in str(info.value) and "part-0.parquet" in str(info.value)


def test_bars_allow_extra_columns_after_the_canonical_ones() -> None:
    cols = {f.name: pa.array([], f.type) for f in BARS_SCHEMA}
    cols["dollar_imbalance"] = pa.array([], pa.float64())
    validate_table(pa.table(cols), BARS_SCHEMA, where="bars", exact=False)


def test_is_sorted_detects_a_single_inversion() -> None:
    assert is_sorted(pa.array([1, 2, 2, 3]))
    assert not is_sorted(pa.array([1, 3, 2]))
    assert is_sorted(trades().column("ts"))


def test_each_trade_kind_has_its_own_tree(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    day = date(2024, 1, 2)
    trades_dir = lake.trades_dir("binance", "spot", "BTCUSDT", day)
    agg_dir = lake.for_trade_kind("aggTrades").trades_dir("binance", "spot", "BTCUSDT", day)
    assert trades_dir == tmp_path / "trades/exchange=binance/market=spot/symbol=BTCUSDT/date=2024-01-02"
    assert agg_dir == tmp_path / "aggtrades/exchange=binance/market=spot/symbol=BTCUSDT/date=2024-01-02"
    assert lake.trade_kind_dir("aggTrades", "binance", "spot", "BTCUSDT", day) == agg_dir
    with pytest.raises(DataError, match="not a trade kind"):
        lake.for_trade_kind("klines")
    with pytest.raises(DataError, match="invalid symbol"):
        lake.trade_kind_dir("trades", "binance", "spot", "../x", day)


def test_partitions_use_the_lake_encodings_and_read_back_exactly(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    table = trades(3000).append_column("venue", pa.array(["a", "b", "c"] * 1000))
    path = lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 1)), table,
                                Provenance(source="test", rows=table.num_rows))
    row_group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {row_group.column(i).path_in_schema: set(row_group.column(i).encodings)
                 for i in range(row_group.num_columns)}
    for name in ("ts", "trade_id"):
        assert "DELTA_BINARY_PACKED" in encodings[name], encodings[name]
    for name in ("price", "qty", "quote_qty"):
        assert "BYTE_STREAM_SPLIT" in encodings[name], encodings[name]
    assert "RLE_DICTIONARY" in encodings["venue"]  # strings repeat: dictionary pages stay
    assert pq.read_table(path).equals(table.replace_schema_metadata(None).cast(pq.read_schema(path)))


def test_write_parquet_outside_partitions_uses_the_same_encodings_atomically(tmp_path: Path) -> None:
    table = trades(100)
    path = write_parquet(tmp_path / "runs" / "nav.parquet", table)
    column = pq.ParquetFile(path).metadata.row_group(0).column(table.schema.get_field_index("price"))
    assert "BYTE_STREAM_SPLIT" in column.encodings
    assert pq.read_table(path).equals(table.cast(pq.read_schema(path)))
    assert [p.name for p in path.parent.iterdir()] == ["nav.parquet"]  # no temporary file left


@pytest.mark.parametrize("store", ["local", "s3"])
def test_a_stray_parquet_file_in_a_partition_is_refused_not_read_as_more_rows(
        store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A copy of a day's file under another name would be read as more rows of that day (bars or
    features twice over, no error anywhere): the dataset refuses it by name; hidden names (staging,
    manifests) are not data and stay unread."""
    root = str(request.getfixturevalue("s3_lake_url")) if store == "s3" else str(tmp_path / "lake")
    lake = Lake(root)
    day = lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 1))
    lake.write_partition(day, trades(), Provenance(source="test", rows=5))
    (day / "_manifest.json").write_bytes(b"{}")
    (day / ".part-0.parquet.tmp-1").write_bytes((day / "part-0.parquet").read_bytes())
    assert lake.dataset("trades").to_table().num_rows == 5
    (day / "part-1.parquet").write_bytes((day / "part-0.parquet").read_bytes())  # a valid Parquet file
    with pytest.raises(DataError, match=r"'part-1\.parquet' is not a lake partition file") as stray:
        lake.dataset("trades")
    assert str(stray.value.where).endswith("date=2024-01-01/part-1.parquet")
