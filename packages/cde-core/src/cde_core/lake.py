"""The Parquet lake: partition layout, atomic partition writes with provenance, dataset reads.

Layout (ARCHITECTURE.md)::

    <root>/trades/exchange=binance/market=spot/symbol=BTCUSDT/date=2024-01-01/part-0.parquet
    <root>/aggtrades/exchange=…/market=…/symbol=…/date=…/part-0.parquet      (aggregated trades, same schema)
    <root>/klines/exchange=…/market=…/interval=1m/symbol=…/date=…/part-0.parquet
    <root>/funding/exchange=…/market=…/symbol=…/month=YYYY-MM/part-0.parquet
    <root>/bars/spec=<bar-spec-id>/exchange=…/market=…/symbol=…/date=…/part-0.parquet
    <root>/features/spec=<feature-set-id>/exchange=…/market=…/symbol=…/part-0.parquet
    <root>/runs/<run-id>/

A partition is one Parquet file. Its provenance (source URL, checksum, rows, first/last trade id,
min/max ts …) is stored in the file's own key-value metadata under ``cde.provenance``, so the file
and its provenance appear together in a single atomic rename: a partition either exists complete
with provenance or not at all.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from cde_core.atomic import atomic_path
from cde_core.errors import DataError, NotFoundError
from cde_core.lake_location import LakePath, arrow_target, lake_root

# re-exported: the guard lives in cde_core.lake_paths, callers know it as part of the lake
from cde_core.lake_paths import SAFE_VALUE_PATTERN as SAFE_VALUE_PATTERN
from cde_core.lake_paths import LakeName as LakeName
from cde_core.lake_paths import inside
from cde_core.lake_paths import safe_value as safe_value
from cde_core.object_store import ObjectPath, store_outage
from cde_core.parquet_encoding import parquet_write_options

if TYPE_CHECKING:
    import pyarrow.dataset as ds

PROVENANCE_KEY = b"cde.provenance"
PART_FILE = "part-0.parquet"


#: the lake tree of each trade-shaped archive kind. They share :data:`cde_core.schemas.TRADES_SCHEMA` but
#: not their ids or rows (an aggregate trade is several trades), so each kind lives in its own tree and
#: a partition of one is never taken for the other.
TRADE_TREES: dict[str, str] = {"trades": "trades", "aggTrades": "aggtrades"}


_UNREADABLE_PARQUET = re.compile(r"Could not open Parquet input source '(?P<path>[^']+)': (?P<why>[^\n]+)")


def unreadable_parquet(exc: BaseException) -> DataError | None:
    """The one-line error for pyarrow refusing a file of a dataset scan (a damaged, empty or foreign
    file under a lake folder: "Could not open Parquet input source '…'"), or None for anything else.
    The CLI, the API and the task manager report it with the file and what to do, not as an internal
    error: the fault is in the lake, not in cde."""
    if not isinstance(exc, ValueError | OSError):  # pyarrow.ArrowInvalid is a ValueError
        return None
    match = _UNREADABLE_PARQUET.search(str(exc))
    if match is None:
        return None
    return DataError(f"unreadable Parquet file in the lake: {match['why'].strip()}", where=match["path"],
                     hint="delete it (a damaged or foreign file) and re-run the step that writes that folder")


def trade_tree(kind: str) -> str:
    """The lake tree (top folder) holding trades of archive ``kind``."""
    try:
        return TRADE_TREES[kind]
    except KeyError:
        raise DataError(f"'{kind}' is not a trade kind of the lake",
                        hint=f"trade kinds: {', '.join(TRADE_TREES)}") from None


class Provenance(BaseModel):
    """Where a partition came from and what it holds; stored inside the partition file."""

    source: str = Field(description="source URL or producing step")
    checksum: str | None = Field(default=None, description="sha256 of the source file, when known")
    rows: int
    first_trade_id: int | None = None
    last_trade_id: int | None = None
    min_ts: str | None = None
    max_ts: str | None = None
    created_by: str = "cde"
    extra: dict[str, Any] = Field(default_factory=dict)


class Lake:
    """A lake rooted at a local folder or a bucket prefix (``s3://bucket/lake``, see
    :mod:`cde_core.object_store`); every path it hands out is a ``Path`` or an ``ObjectPath`` with the
    same operations, and pyarrow reads go through :func:`cde_core.lake_location.arrow_target`.

    ``trade_kind`` picks which trade tree :meth:`trades_dir`, :meth:`trades_files` and :meth:`symbols`
    address: ``trades`` (the default, what bars, universe and features read) or ``aggTrades``. A
    writer of aggregated trades works on ``lake.for_trade_kind("aggTrades")`` and so cannot write into
    the trades tree by mistake.
    """

    def __init__(self, root: LakePath | str, *, trade_kind: str = "trades") -> None:
        self.root: LakePath = lake_root(root)
        self.trade_kind = trade_kind
        self.trade_tree = trade_tree(trade_kind)

    def for_trade_kind(self, kind: str) -> Lake:
        """The same lake, addressing the trade tree of ``kind``."""
        return Lake(self.root, trade_kind=kind)

    # -- paths ---------------------------------------------------------------------------------
    def hive_dir(self, tree: str, *parts: tuple[str, str]) -> LakePath:
        """``<root>/<tree>/key=value/…`` with every value checked by :func:`safe_value`, refused when
        a symlink on the way leads out of the lake (:meth:`contained`)."""
        folder = self.root / tree
        for key, value in parts:
            folder = folder / f"{key}={safe_value(value, what=key)}"
        return self.contained(folder)

    def trade_kind_dir(self, kind: str, exchange: str, market: str, symbol: str, day: date) -> LakePath:
        """Partition folder of one symbol-day of trade kind ``kind`` (``trades`` or ``aggTrades``)."""
        return self.hive_dir(trade_tree(kind), ("exchange", exchange), ("market", market), ("symbol", symbol),
                             ("date", day.isoformat()))

    def trades_dir(self, exchange: str, market: str, symbol: str, day: date) -> LakePath:
        """Partition folder of one symbol-day in this lake's trade tree (``trades`` by default)."""
        return self.trade_kind_dir(self.trade_kind, exchange, market, symbol, day)

    def klines_dir(self, exchange: str, market: str, interval: str, symbol: str, day: date) -> LakePath:
        """Partition folder of one symbol-day of exchange klines (:data:`cde_core.schemas.KLINES_SCHEMA`)."""
        return self.hive_dir("klines", ("exchange", exchange), ("market", market), ("interval", interval),
                             ("symbol", symbol), ("date", day.isoformat()))

    def funding_dir(self, exchange: str, market: str, symbol: str, month: date) -> LakePath:
        """Partition folder of one symbol-month of funding rates (:data:`cde_core.schemas.FUNDING_SCHEMA`)."""
        return self.hive_dir("funding", ("exchange", exchange), ("market", market), ("symbol", symbol),
                             ("month", month.strftime("%Y-%m")))

    def bars_dir(self, spec: str, exchange: str, market: str, symbol: str) -> LakePath:
        return self.contained(self.root / "bars" / f"spec={safe_value(spec, what='bar spec')}"
                              / f"exchange={safe_value(exchange, what='exchange')}"
                              / f"market={safe_value(market, what='market')}"
                              / f"symbol={safe_value(symbol, what='symbol')}")

    def features_dir(self, spec: str, exchange: str, market: str, symbol: str) -> LakePath:
        return self.contained(self.root / "features" / f"spec={safe_value(spec, what='feature set')}"
                              / f"exchange={safe_value(exchange, what='exchange')}"
                              / f"market={safe_value(market, what='market')}"
                              / f"symbol={safe_value(symbol, what='symbol')}")

    @property
    def is_object_store(self) -> bool:
        """True for a bucket: no rename, no symlinks, no local file locks."""
        return isinstance(self.root, ObjectPath)

    def inside(self, path: LakePath) -> LakePath:
        """``path`` with symlinks resolved, if it stays in the lake; DataError otherwise. Every file
        the API serves is opened through this, so a link planted in the lake serves nothing outside."""
        return inside(self.root, path)

    def contained(self, path: LakePath) -> LakePath:
        """``path`` as given, after checking it stays in the lake once symlinks are resolved (DataError
        ``path leaves the lake`` otherwise). Every folder the lake hands out — to readers, writers and
        deleters alike — passes this, so a spec, symbol or run folder linked out of the lake is never
        written into, swept or read: files are only ever written inside the lake they were given."""
        if not self.is_object_store:  # a bucket has no symlinks
            self.inside(path)
        return path

    def hive_dataset(self, base: LakePath) -> ds.Dataset:
        """The Parquet files under ``base`` as one hive dataset, every file checked :meth:`inside`."""
        import pyarrow.dataset as ds

        where, filesystem = arrow_target(self.inside(base))
        dataset = ds.dataset(where, format="parquet", partitioning="hive", filesystem=filesystem)
        for file in dataset.files:
            # A partition is its one PART_FILE; any other visible file would be read as more rows of
            # it (a copied "part-1.parquet" doubles a day's bars with no error anywhere downstream).
            # Hidden names ("." / "_": staging, manifests) are not listed by the dataset at all.
            name = file.rsplit("/", 1)[-1]
            if name != PART_FILE:
                raise DataError(f"'{name}' is not a lake partition file (each partition is one {PART_FILE})",
                                where=file if filesystem is None else f"s3://{file}",
                                hint="move it out of the lake, or delete it, and run again")
            if filesystem is None:  # a bucket has no symlinks; every key listed lies under base
                self.inside(Path(file))
        return dataset

    def runs_dir(self) -> LakePath:
        return self.root / "runs"

    def run_dir(self, run_id: str) -> LakePath:
        return self.contained(self.runs_dir() / safe_value(run_id, what="run id"))

    # -- writes --------------------------------------------------------------------------------
    def write_partition(self, folder: LakePath, table: pa.Table, provenance: Provenance,
                        *, name: str = PART_FILE) -> LakePath:
        """Write ``table`` as ``folder/name`` atomically (encoded per :mod:`cde_core.parquet_encoding`), with
        provenance in its metadata."""
        self.contained(folder)  # callers may build the folder themselves (month=…, date=…)
        meta = dict(table.schema.metadata or {})
        meta[PROVENANCE_KEY] = provenance.model_dump_json().encode()
        table = table.replace_schema_metadata(meta)
        target = folder / name
        with atomic_path(target) as tmp:
            pq.write_table(table, tmp, row_group_size=1 << 20, **parquet_write_options(table.schema))
        return target

    # -- reads ---------------------------------------------------------------------------------
    @staticmethod
    def read_provenance(path: LakePath) -> Provenance | None:
        """Provenance of a partition file (or of the partition folder's part file), or None if the file
        is missing or has none. In a bucket no folder or existence probe comes first (each is a round
        trip): a key not ending in ``.parquet`` is a partition folder, and the footer read itself
        tells a missing object."""
        if isinstance(path, ObjectPath):
            if not path.name.endswith(".parquet"):
                path = path / PART_FILE
        else:
            if path.is_dir():
                path = path / PART_FILE
            if not path.exists():
                return None
        where, filesystem = arrow_target(path)
        try:
            if filesystem is not None:  # one footer read: its key-value metadata holds the schema's too
                meta = pq.read_metadata(where, filesystem=filesystem).metadata or {}
            else:
                meta = pq.read_schema(where).metadata or {}
                if PROVENANCE_KEY not in meta:
                    # streaming writers (ParquetWriter.add_key_value_metadata) store it in the footer only
                    meta = pq.read_metadata(where).metadata or {}
        except (pa.ArrowInvalid, OSError) as exc:
            if isinstance(exc, FileNotFoundError) and filesystem is not None:
                return None  # a bucket: the read was the existence check
            outage = store_outage(exc)  # the store is down, not this file bad: never advise deleting it
            if outage is not None:
                raise outage from exc
            raise DataError(f"unreadable partition file: {exc}", where=str(path),
                            hint="delete it and re-run the step that wrote it") from exc
        raw = meta.get(PROVENANCE_KEY)
        return Provenance.model_validate_json(raw) if raw else None

    def dataset(self, kind: str, *, subpath: str | None = None) -> ds.Dataset:
        # pyarrow.dataset loads pandas (~60 MB, a second): imported only by readers that need it
        """The whole ``kind`` tree (trades, bars/spec=…, features/spec=…) as one hive dataset."""
        base = self.root / kind if subpath is None else self.root / kind / subpath
        if not base.exists():
            raise NotFoundError(f"nothing in the lake under {base}", hint="download or build it first")
        return self.hive_dataset(base)

    def trades_files(self, exchange: str, market: str, symbol: str,
                     start: date | None = None, end: date | None = None) -> list[LakePath]:
        """Existing trade partition files of one symbol, in date order, within [start, end]."""
        base = self.trades_dir(exchange, market, symbol, date(2000, 1, 1)).parent
        files: list[LakePath] = []
        if isinstance(base, ObjectPath):  # one listing instead of a request per day
            days = {obj.parent for obj, _ in base.walk_files() if obj.name == PART_FILE}
            candidates = sorted(days)
        else:
            candidates = sorted(base.glob("date=*"))
        for folder in candidates:
            if not folder.name.startswith("date="):
                continue
            day = date.fromisoformat(folder.name.removeprefix("date="))
            if (start and day < start) or (end and day > end):
                continue
            part = folder / PART_FILE
            if isinstance(part, ObjectPath) or part.exists():
                files.append(part)
        return files

    def symbols(self, exchange: str, market: str) -> list[str]:
        base = self.hive_dir(self.trade_tree, ("exchange", exchange), ("market", market))
        return sorted(p.name.removeprefix("symbol=") for p in base.glob("symbol=*")) if base.exists() else []

