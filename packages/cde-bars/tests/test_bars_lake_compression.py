"""The lake's compression is configuration: a lake written with LZ4 reads back exactly.

Writers take the codec from ``lake.compression`` (the process-wide config, here set as a user's
``CDE_LAKE__COMPRESSION`` would); readers need no setting. Checked on the files themselves (the
codec recorded per column chunk), through the lake's reader, pyarrow as one hive dataset, and the
bars built from it (bars files written with the same codec).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from cde_bars_lake import write_trades_lake

from cde_bars import AggregateRequest, aggregate_lake, read_bars
from cde_core.config import load_config, set_config
from cde_core.lake import Lake
from cde_core.local_executor import LocalExecutor, LocalExecutorParams

DAYS = [date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2)]
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@pytest.fixture()
def codec_config() -> Iterator[None]:
    yield
    set_config(None)


def use_codec(codec: str) -> None:
    set_config(load_config(use_file=False, environ={"CDE_LAKE__COMPRESSION": codec}))


def codecs(root: Path) -> set[str]:
    """Every column chunk's codec in every Parquet file under ``root``."""
    found = set()
    for path in root.rglob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            found |= {meta.row_group(g).column(c).compression for c in range(meta.num_columns)}
    return found


def write_lake(root: Path, codec: str):
    use_codec(codec)
    lake = Lake(root)
    written = {s: write_trades_lake(lake, s, DAYS, n=2500, seed=i) for i, s in enumerate(SYMBOLS)}
    request = AggregateRequest(bar="dollar", params={"threshold": 30_000.0}, exchange="binance",
                               market="spot", symbols=SYMBOLS, start=DAYS[0], end=DAYS[-1], batch_rows=1024)
    report = aggregate_lake(request, lake=lake,
                            executor=LocalExecutor(LocalExecutorParams(kind="thread", max_workers=2)))
    return lake, written, report


def test_a_lake_written_with_lz4_reads_back_exactly(tmp_path: Path, codec_config: None) -> None:
    zstd_lake, written, zstd_report = write_lake(tmp_path / "zstd", "zstd")
    lz4_lake, same, lz4_report = write_lake(tmp_path / "lz4", "lz4")
    assert all(written[s].equals(same[s]) for s in SYMBOLS)  # same input, two codecs
    assert codecs(zstd_lake.root) == {"ZSTD"}
    assert codecs(lz4_lake.root) == {"LZ4"}  # trades and bars partitions alike

    for symbol in SYMBOLS:  # the lake's reader, per symbol, in time order
        table = lz4_lake.dataset("trades").to_table(filter=ds.field("symbol") == symbol)
        back = table.select(written[symbol].column_names).sort_by("trade_id")
        assert back.equals(written[symbol])
    # pyarrow on its own, the whole trades tree as one hive-partitioned dataset
    whole = ds.dataset(lz4_lake.root / "trades", format="parquet", partitioning="hive").to_table()
    assert whole.num_rows == sum(t.num_rows for t in written.values())
    reference = ds.dataset(zstd_lake.root / "trades", format="parquet", partitioning="hive").to_table()
    assert whole.sort_by([("symbol", "ascending"), ("trade_id", "ascending")]).equals(
        reference.sort_by([("symbol", "ascending"), ("trade_id", "ascending")]))

    assert lz4_report.trades == zstd_report.trades == whole.num_rows
    assert lz4_report.bars == zstd_report.bars > 0
    spec = lz4_report.spec_id
    lz4_bars = read_bars(lz4_lake, spec, "binance", "spot", SYMBOLS)
    zstd_bars = read_bars(zstd_lake, spec, "binance", "spot", SYMBOLS)
    assert lz4_bars.equals(zstd_bars)
