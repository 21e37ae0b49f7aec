"""Read bars back from the lake as a pandas panel indexed by (ts, symbol)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cde_bars.assemble import PERIOD_START
from cde_bars.bars_lake import month_label, month_partitions
from cde_core.errors import NotFoundError
from cde_core.lake import Lake
from cde_core.lake_location import arrow_target
from cde_core.schemas import mark_bar_interval


def read_bars(lake: Lake, spec_id: str, exchange: str, market: str, symbols: Sequence[str] | str,
              start: date | None = None, end: date | None = None, *,
              index: str | None = None) -> pd.DataFrame:
    """Bars of ``spec_id`` for ``symbols`` whose first trade falls in ``[start, end]`` (UTC days).

    Returns a DataFrame indexed by ``(ts, symbol)``, sorted. The ``ts`` level is the column named by
    ``index``: by default ``period_start`` for time bars (so symbols align on interval starts; the
    first-trade time stays as column ``ts_first``) and the first-trade ``ts`` for every other bar.
    """
    symbols = [symbols] if isinstance(symbols, str) else list(symbols)
    tables = []
    for symbol in symbols:
        symbol_dir = lake.bars_dir(spec_id, exchange, market, symbol)
        months = month_partitions(symbol_dir)
        for month, path in months.items():
            if (start and month < month_label(start)) or (end and month > month_label(end)):
                continue
            where, filesystem = arrow_target(lake.inside(path))
            table = pq.read_table(where, filesystem=filesystem)
            tables.append(table.append_column("symbol", pa.array([symbol] * table.num_rows, pa.string())))
    if not tables:
        from cde_core.lake_names import check_hive_path, check_span_held

        # a misspelt spec, exchange, market or symbol names the nearest held; a range outside the
        # bars names the span held; only then "build them first"
        folder = check_hive_path(lake.root / "bars", ("spec", spec_id), ("exchange", exchange),
                                 ("market", market), ("symbol", symbols))
        what = f"bars of spec '{spec_id}' for {', '.join(symbols)}"
        check_span_held(folder, symbols, start, end, what=what, where=f"{lake.root}/bars/spec={spec_id}")
        raise NotFoundError(f"no bars of spec '{spec_id}' for {', '.join(symbols)}",
                            where=str(lake.root / "bars" / f"spec={spec_id}"),
                            hint="build them first: cde aggregate --bar … (or aggregate_lake)")
    frame = pa.concat_tables(tables, promote_options="default").to_pandas()
    if start is not None:
        frame = frame[frame["ts"] >= pd.Timestamp(datetime.combine(start, datetime.min.time(), UTC))]
    if end is not None:
        frame = frame[frame["ts"] < pd.Timestamp(datetime.combine(end, datetime.min.time(), UTC))
                      + pd.Timedelta(days=1)]
    level = index or (PERIOD_START if PERIOD_START in frame.columns else "ts")
    if level != "ts":
        frame = frame.rename(columns={"ts": "ts_first"}).rename(columns={level: "ts"})
    panel = frame.set_index(["ts", "symbol"]).sort_index()
    return mark_bar_interval(panel) if level == PERIOD_START else panel
