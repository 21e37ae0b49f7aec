"""A user's file (CSV, CSV.gz or Parquet) as a stream of batches of its mapped columns, for ``cde import``.

Streaming, so a multi-GB file never sits in memory: CSV is parsed in line-aligned 1 MiB pieces with the
archive extraction's own machinery (:func:`cde_exchanges.formats.zip_member.counted_line_chunks`, the value and
empty-field checks of :mod:`cde_exchanges.formats.csv_checks`, so errors name the file line exactly as a download
does); Parquet is read a row group at a time. Each batch carries how to name one of its rows ("line 57"
for CSV, "row 57" for Parquet) so later checks (time order, timestamps) can say where.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from cde_core.errors import DataError
from cde_exchanges.formats.csv_checks import PiecePlace, ValueRule, check_batch
from cde_exchanges.formats.csv_formats import CHUNK_SIZE, extraction_pool
from cde_exchanges.formats.zip_member import counted_line_chunks, in_background
from cde_exchanges.importing.import_columns import ValueKind, resolve_columns

FIX_HINT = "fix or remove that row and import again"
_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]
_ARROW_TYPES: dict[str, pa.DataType] = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
                                        "string": pa.string()}
PARQUET_BATCH_ROWS = 1 << 17


def users_file(exc: DataError) -> DataError:
    """The archive checks' error with the advice for a user's own file (they advise reporting an
    exchange's file)."""
    return DataError(exc.what, where=exc.where, hint=FIX_HINT)


@dataclass(frozen=True)
class SourceBatch:
    """Rows of one file: ``columns`` by role, ``locate(row)`` names row ``row`` of this batch in the file,
    ``fraction`` is how far through the file this batch ends (for progress)."""

    columns: dict[str, pa.Array]
    where: str
    locate: Callable[[int], str]
    fraction: float

    @property
    def num_rows(self) -> int:
        return len(next(iter(self.columns.values())))


def file_kind(path: Path) -> str:
    """``parquet``, ``csv.gz`` or ``csv``, from the file's first bytes (not its name)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    return "csv"


def read_source(path: Path, roles: dict[str, ValueKind], required: set[str], mapping: dict[str, str],
                rules: dict[str, ValueRule]) -> Iterator[SourceBatch]:
    """Stream ``path``'s mapped columns; ``rules`` are the value rules of numeric roles. A caller that may
    stop early (an error) closes the generator (``contextlib.closing``), which stops its reader threads."""
    if not path.is_file():
        raise DataError("no such file", where=str(path), hint="check the path")
    if file_kind(path) == "parquet":
        return _read_parquet(path, roles, required, mapping)
    return _read_csv(path, roles, required, mapping, rules)


# -- CSV ---------------------------------------------------------------------------------------------
def _open_text(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(decoded byte stream, the raw file whose position measures progress)."""
    raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if file_kind(path) == "csv.gz":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


def _header(path: Path) -> tuple[list[str], list[str]]:
    """(header names, first data row) read with the csv module, so quoted names with commas work."""
    stream, raw = _open_text(path)
    try:
        head = stream.read(64 << 10)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read the file: {exc}", where=path.name,
                        hint="is it a CSV, CSV.gz or Parquet file?") from None
    finally:
        raw.close()
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    rows = list(csv.reader(text.splitlines()[:2]))
    if not rows or not rows[0]:
        raise DataError("line 1: the file is empty", where=path.name, hint="import a file with a header line")
    return [name.strip() for name in rows[0]], (rows[1] if len(rows) > 1 else [])


def _time_kind(sample: str | None) -> str:
    """How a time column's text is read: plain integers, decimal numbers or date-time text."""
    if sample is None:
        return "string"
    value = sample.strip()
    if value.lstrip("-").isdigit():
        return "int"
    try:
        float(value)
    except ValueError:
        return "string"
    return "float"


def _read_csv(path: Path, roles: dict[str, ValueKind], required: set[str], mapping: dict[str, str],
              rules: dict[str, ValueRule]) -> Iterator[SourceBatch]:
    where = path.name
    header, first = _header(path)
    found = resolve_columns(header, roles, required, mapping, where=where)
    types: dict[str, pa.DataType] = {}
    for role, column in found.items():
        read_as: str = roles[role]
        if read_as == "time":
            sample = first[header.index(column)] if len(first) > header.index(column) else None
            read_as = _time_kind(sample)
        types[column] = _ARROW_TYPES[read_as]
    names = [n if n in types else f"_unused_{i}" for i, n in enumerate(header)]
    column_rules = {found[role]: rule for role, rule in rules.items() if role in found}
    convert = pcsv.ConvertOptions(column_types=types, include_columns=list(types), true_values=_TRUE,
                                  false_values=_FALSE, strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)
    size = max(path.stat().st_size, 1)

    def parse(piece: memoryview | bytes, skip: int) -> pa.Table:
        options = pcsv.ReadOptions(column_names=names, skip_rows=skip, block_size=CHUNK_SIZE)
        return pcsv.read_csv(pa.BufferReader(pa.py_buffer(piece)), read_options=options,
                             convert_options=convert, memory_pool=extraction_pool())

    def pieces() -> Iterator[tuple[pa.Table, PiecePlace, float]]:
        stream, raw = _open_text(path)
        try:
            line = 1
            for index, (piece, newlines) in enumerate(counted_line_chunks(stream, CHUNK_SIZE)):
                skip = 1 if index == 0 else 0
                place = PiecePlace(where, line, piece, skip)
                line += newlines
                try:
                    table = parse(piece, skip)
                except pa.ArrowInvalid as exc:
                    raise users_file(place.parse_error(exc, functools.partial(parse, skip=skip))) from None
                yield table, place, raw.tell() / size
        except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
            raise DataError(f"cannot read the file: {exc}", where=where, hint="the file is damaged; "
                            "export or download it again") from None
        finally:
            raw.close()

    # closed on every way out, so its reader threads are stopped and joined before an error leaves
    # this generator (a daemon thread still inside Arrow at interpreter exit aborts the process)
    with contextlib.closing(in_background(pieces(), name="import-csv-parser")) as parsed:
        for table, place, fraction in parsed:
            offset = 0
            for batch in table.combine_chunks().to_batches():
                if not batch.num_rows:
                    continue
                try:
                    check_batch(batch, column_rules, place, offset)
                except DataError as exc:
                    raise users_file(exc) from None
                columns = {role: batch.column(column) for role, column in found.items()}
                yield SourceBatch(columns, where, _line_locator(place, offset), fraction)
                offset += batch.num_rows


def _line_locator(place: PiecePlace, offset: int) -> Callable[[int], str]:
    return lambda row: f"line {place.line_of_row(offset + row)}"


# -- Parquet -----------------------------------------------------------------------------------------
def _read_parquet(path: Path, roles: dict[str, ValueKind], required: set[str],
                  mapping: dict[str, str]) -> Iterator[SourceBatch]:
    where = path.name
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"not a readable Parquet file: {exc}", where=where, hint="export it again") from None
    header = parquet.schema_arrow.names
    found = resolve_columns(header, roles, required, mapping, where=where)
    total = max(parquet.metadata.num_rows, 1)
    done = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(dict.fromkeys(found.values()))):
        columns = {}
        for role, column in found.items():
            array = batch.column(column)
            if array.null_count:
                row = int(pc.index(array.is_null(), True).as_py())
                raise DataError(f"row {done + row + 1}: empty value in column '{column}'", where=where,
                                hint=FIX_HINT)
            columns[role] = _cast_parquet(array, roles[role], column, where)
        yield SourceBatch(columns, where, _row_locator(done), min((done + batch.num_rows) / total, 1.0))
        done += batch.num_rows


def _row_locator(first: int) -> Callable[[int], str]:
    return lambda row: f"row {first + row + 1}"


def _cast_parquet(array: pa.Array, kind: ValueKind, column: str, where: str) -> pa.Array:
    if kind == "time":
        return array  # timestamps, integers or text: decided by import_timestamps
    if kind == "bool" and not pa.types.is_boolean(array.type):
        raise DataError(f"column '{column}' has type {array.type}, not boolean", where=where,
                        hint="store true/false, or map a buy/sell column with --columns side=<column>")
    try:
        return array.cast(_ARROW_TYPES[kind])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"column '{column}' ({array.type}) cannot be read as {kind}: {exc}", where=where,
                        hint="map the right column with --columns") from None
