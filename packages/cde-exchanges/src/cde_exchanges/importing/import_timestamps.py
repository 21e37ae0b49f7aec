"""A user's time column → µs since the epoch (UTC), for ``cde import``.

Accepted: timestamps of any unit and zone (Parquet), date-time text (ISO 8601 with ``-`` or ``/`` dates,
``T`` or a space, fractions, optional ``Z``/``±hh:mm`` offset; any layout with ``--ts-format``), and epoch
numbers **only with their unit** (``--ts-unit s|ms|us|ns``): an epoch in milliseconds read as microseconds
lands in 1970 and nothing downstream would notice, so cde never guesses a user's unit (as ``build_bars``).
Times without a zone are in ``--timezone`` (default UTC). Every converted time must lie between
2009-01-01 and tomorrow; outside is almost always a wrong unit, and the error names the line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from cde_core.errors import ConfigError, DataError

EpochUnit = Literal["s", "ms", "us", "ns"]
_PER_UNIT_US: dict[str, float] = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}
EARLIEST_US = 1_230_768_000_000_000  # 2009-01-01T00:00:00Z
_DAY_US = 86_400_000_000


class TimeOptions(BaseModel):
    """How to read the time column (the ``--ts-unit``, ``--ts-format`` and ``--timezone`` options)."""

    unit: EpochUnit | None = Field(None, description="epoch unit of numeric times: s, ms, us or ns")
    format: str | None = Field(None, description="strftime layout of date-time text, e.g. '%d.%m.%Y %H:%M:%S.%f'")
    timezone: str = Field("UTC", description="zone of times written without one, e.g. America/Chicago")

    def describe(self) -> dict[str, str | None]:
        return {"unit": self.unit, "format": self.format, "timezone": self.timezone}


def check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        import difflib

        near = difflib.get_close_matches(name, sorted(available_timezones()), n=3)
        raise ConfigError(f"unknown time zone '{name}'", where="--timezone",
                          hint=f"did you mean {', '.join(near)}?" if near else "use an IANA name, e.g. "
                               "Europe/London") from None


def to_utc_micros(values: pa.Array, options: TimeOptions, *, where: str, column: str,
                  locate: Callable[[int], str]) -> np.ndarray:
    """The times of ``values`` as int64 µs since the epoch (UTC); errors name ``where`` and the line."""
    kind = values.type
    if pa.types.is_timestamp(kind):
        micros = _from_timestamps(values, options, where=where, locate=locate)
    elif pa.types.is_date(kind):  # daily bars: the day's start, in --timezone
        micros = _from_timestamps(values.cast(pa.timestamp("us")), options, where=where, locate=locate)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        micros = _from_epoch(values, options, where=where, column=column, locate=locate)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        micros = _from_text(values.cast(pa.string()), options, where=where, locate=locate)
    else:
        raise DataError(f"column '{column}' has type {kind}, not a time", where=where,
                        hint="map the time column with --columns ts=<column>")
    _check_range(micros, values, where=where, locate=locate)
    return micros


def _from_timestamps(values: pa.Array, options: TimeOptions, *, where: str,
                     locate: Callable[[int], str]) -> np.ndarray:
    if values.type.tz is None and options.timezone != "UTC":
        values = _assume_zone(values, options.timezone, where=where, locate=locate)
    micros = values.cast(pa.timestamp("us", tz=values.type.tz), safe=False)  # ns → µs truncates
    return np.asarray(micros.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _assume_zone(values: pa.Array, zone: str, *, where: str, locate: Callable[[int], str]) -> pa.Array:
    try:
        return pc.assume_timezone(values, zone)
    except pa.ArrowInvalid as exc:  # a local time that does not exist or exists twice (DST changes)
        bad = pc.assume_timezone(values, zone, ambiguous="earliest", nonexistent="earliest")
        row = _first_difference(values, zone, bad)
        raise DataError(f"{locate(row)}: {str(exc).splitlines()[0]}", where=where,
                        hint="the local time falls in a daylight-saving change; export the times in UTC "
                             "or with their offset") from None


def _first_difference(values: pa.Array, zone: str, earliest: pa.Array) -> int:
    latest = pc.assume_timezone(values, zone, ambiguous="latest", nonexistent="latest")
    differs = np.flatnonzero(earliest.cast(pa.int64()).to_numpy() != latest.cast(pa.int64()).to_numpy())
    return int(differs[0]) if len(differs) else 0


def _from_epoch(values: pa.Array, options: TimeOptions, *, where: str, column: str,
                locate: Callable[[int], str]) -> np.ndarray:
    if options.unit is None:
        raise DataError(f"{locate(0)}: column '{column}' holds plain numbers ({values[0].as_py()}), whose "
                        f"epoch unit cannot be known", where=where,
                        hint="name it with --ts-unit s, ms, us or ns")
    if options.unit == "us" and pa.types.is_integer(values.type):
        return np.asarray(values.cast(pa.int64()).to_numpy(), dtype=np.int64)
    numbers = values.cast(pa.float64()).to_numpy() if pa.types.is_floating(values.type) else None
    if numbers is None:
        whole = np.asarray(values.cast(pa.int64()).to_numpy(), dtype=np.int64)
        if options.unit == "ns":
            return whole // 1000
        factor = int(_PER_UNIT_US[options.unit])
        limit = np.iinfo(np.int64).max // factor
        over = np.flatnonzero(np.abs(whole) > limit)
        if len(over):
            raise DataError(f"{locate(int(over[0]))}: {whole[over[0]]} is too large for an epoch in "
                            f"{options.unit}", where=where, hint="check --ts-unit")
        return whole * factor
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        raise DataError(f"{locate(int(bad[0]))}: time is {numbers[bad[0]]!r}", where=where, hint="fix that row")
    micros: np.ndarray = np.round(numbers * _PER_UNIT_US[options.unit]).astype(np.int64)
    return micros


def _from_text(values: pa.Array, options: TimeOptions, *, where: str, locate: Callable[[int], str]) -> np.ndarray:
    if options.format is not None:
        return _from_formatted_text(values, options, where=where, locate=locate)
    # ISO 8601 as Arrow parses it, after turning 2011/07/31 into 2011-07-31 (a common vendor layout)
    text = pc.replace_substring(pc.utf8_trim_whitespace(values), "/", "-")
    for zone_type in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        try:
            parsed = text.cast(zone_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return _from_timestamps(parsed, options, where=where, locate=locate)
    row = _first_unparsed(text)
    raise DataError(f"{locate(row)}: '{values[row].as_py()}' is not a date-time cde can read", where=where,
                    hint="give its layout with --ts-format (e.g. '%d.%m.%Y %H:%M:%S.%f'), or --ts-unit for "
                         "epoch numbers; all times of a file need the same form (all with or all without a zone)")


def _first_unparsed(text: pa.Array) -> int:
    """The first row that parses neither as a naive nor as a zoned ISO time (the error path only)."""
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(text.to_pylist()), errors="coerce", format="ISO8601", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        return int(bad[0])
    has_zone = pd.Series(text.to_pylist()).str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).to_numpy()
    mixed = np.flatnonzero(has_zone != has_zone[0])
    return int(mixed[0]) if len(mixed) else 0


def _from_formatted_text(values: pa.Array, options: TimeOptions, *, where: str,
                         locate: Callable[[int], str]) -> np.ndarray:
    import pandas as pd

    series = pd.Series(values.to_numpy(zero_copy_only=False))
    try:  # errors="coerce" covers the rows; a layout with an unknown code still raises
        parsed = pd.to_datetime(series, format=options.format, errors="coerce")
    except ValueError as exc:
        raise ConfigError(f"bad --ts-format '{options.format}': {exc}", where="--ts-format",
                          hint="use strftime codes, e.g. '%d.%m.%Y %H:%M:%S.%f'") from None
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataError(f"{locate(row)}: '{series[row]}' does not match --ts-format '{options.format}'",
                        where=where, hint="fix the row or the layout (strftime codes, %f for fractions)")
    if parsed.dt.tz is None:
        array = pa.array(parsed.dt.as_unit("us"), type=pa.timestamp("us"))
    else:
        array = pa.array(parsed.dt.tz_convert("UTC").dt.as_unit("us"), type=pa.timestamp("us", tz="UTC"))
    return _from_timestamps(array, options, where=where, locate=locate)


def _check_range(micros: np.ndarray, values: pa.Array, *, where: str, locate: Callable[[int], str]) -> None:
    if len(micros) == 0:
        return
    latest = int(time.time() * 1e6) + _DAY_US
    low, high = int(micros.min()), int(micros.max())
    if low >= EARLIEST_US and high <= latest:
        return
    row = int(np.flatnonzero((micros < EARLIEST_US) | (micros > latest))[0])
    when = np.datetime64(int(micros[row]), "us").astype(str)
    side = "before 2009" if micros[row] < EARLIEST_US else "in the future"
    raise DataError(f"{locate(row)}: time {values[row].as_py()} is {when}Z, {side}", where=where,
                    hint="the epoch unit is probably wrong (check --ts-unit) or the row is damaged")
