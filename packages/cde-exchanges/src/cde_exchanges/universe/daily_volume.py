"""Daily quote volume per symbol-day, read from the trades lake as cheaply as possible.

A partition's quote volume is the sum of its ``quote_qty`` column. When the partition writer
recorded the total in the provenance (``extra["quote_volume"]``) that number is used and the
column is not read; otherwise only that one column is read (Parquet is columnar, so this costs a
fraction of reading the partition).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cde_core.errors import DataError
from cde_core.lake import PROVENANCE_KEY, Lake, Provenance
from cde_core.lake_location import LakePath, arrow_target

PROVENANCE_QUOTE_VOLUME = "quote_volume"
_READERS = 4


def partition_quote_volume(path: LakePath) -> float:
    """Sum of quote_qty in one trades partition (provenance total when the writer stored one)."""
    try:
        where, filesystem = arrow_target(path)
        parquet = pq.ParquetFile(where, filesystem=filesystem)
        raw = (parquet.schema_arrow.metadata or {}).get(PROVENANCE_KEY)
        if raw:
            cached = Provenance.model_validate_json(raw).extra.get(PROVENANCE_QUOTE_VOLUME)
            if cached is not None:
                return float(cached)
        column = parquet.read(columns=["quote_qty"])["quote_qty"]
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise DataError(f"cannot read quote_qty: {exc}", where=str(path),
                        hint="re-download this day (`cde download`) or delete the partition") from exc
    total = pc.sum(column).as_py()
    return float(total or 0.0)


def _partition_day(path: LakePath) -> date:
    return date.fromisoformat(path.parent.name.removeprefix("date="))


def daily_quote_volumes(lake: Lake, exchange: str, market: str, start: date | None = None,
                        end: date | None = None) -> pd.DataFrame:
    """One row per existing trades partition in [start, end]: columns date, symbol, quote_volume."""
    jobs = [(symbol, path) for symbol in lake.symbols(exchange, market)
            for path in lake.trades_files(exchange, market, symbol, start, end)]
    with ThreadPoolExecutor(max_workers=_READERS) as pool:  # pyarrow reads release the GIL
        volumes = list(pool.map(partition_quote_volume, [path for _, path in jobs]))
    return pd.DataFrame({"date": [_partition_day(path) for _, path in jobs],
                         "symbol": [symbol for symbol, _ in jobs],
                         "quote_volume": pd.array(volumes, dtype="float64")})
