"""The streaming trades writer (a download's partitions) compresses with the lake's configured codec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.config import load_config, set_config
from cde_core.lake import Lake, Provenance
from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.partition_writer import ROW_GROUP_ROWS, TradePartitionWriter


@pytest.fixture()
def restore_config() -> Iterator[None]:
    yield
    set_config(None)


def trades(n: int) -> pa.Table:
    rng = np.random.default_rng(3)
    price = np.round(100 + np.cumsum(rng.normal(0, 0.01, n)), 2)
    qty = np.round(rng.exponential(1.0, n), 4)
    return pa.table([pa.array(1_700_000_000_000_000 + np.arange(n)).cast(TRADES_SCHEMA.field("ts").type),
                     pa.array(np.arange(n) + 1), pa.array(price), pa.array(qty), pa.array(price * qty),
                     pa.array(rng.random(n) < 0.5)], schema=TRADES_SCHEMA)


@pytest.mark.parametrize(("codec", "recorded"), [("lz4", "LZ4"), ("zstd", "ZSTD"), ("none", "UNCOMPRESSED")])
def test_partition_writer_uses_the_configured_codec(tmp_path: Path, restore_config: None, codec: str,
                                                    recorded: str) -> None:
    set_config(load_config(use_file=False, environ={"CDE_LAKE__COMPRESSION": codec}))
    table = trades(2 * ROW_GROUP_ROWS + 777)  # several row groups
    writer = TradePartitionWriter(tmp_path / "date=2023-11-14")
    for batch in table.to_batches(max_chunksize=50_000):
        writer.write(batch)
    path = writer.commit(Provenance(source="test", rows=table.num_rows))
    meta = pq.ParquetFile(path).metadata
    groups = range(meta.num_row_groups)
    assert len(groups) >= 2
    assert {meta.row_group(g).column(c).compression for g in groups for c in range(meta.num_columns)} \
        == {recorded}
    assert pq.read_table(path).equals(table)
    provenance = Lake.read_provenance(path)
    assert provenance is not None and provenance.rows == table.num_rows
