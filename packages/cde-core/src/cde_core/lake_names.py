"""The names a lake holds (exchanges, markets, symbols, specs …), read from its hive folder names.

Every command that reads the lake uses these to turn "found nothing" into an error that says what
was missing and the nearest names present, instead of an empty result with exit code 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from cde_core.errors import NotFoundError
from cde_core.object_store import ObjectPath
from cde_core.suggest import did_you_mean

if TYPE_CHECKING:
    from cde_core.lake import Lake

#: how a user points a command at another lake
POINT_ELSEWHERE = "point at another lake with data_root in cde.yaml, CDE_DATA_ROOT=…, or --config FILE"


def partition_values(folder: Path | ObjectPath, key: str) -> list[str]:
    """The values of the hive partition ``key=…`` folders directly inside ``folder``."""
    if isinstance(folder, ObjectPath):  # one listing, whose entries say which are prefixes ("folders")
        import pyarrow.fs as pafs

        infos = folder.fs.get_file_info(pafs.FileSelector(folder.key, allow_not_found=True))
        return sorted(i.base_name.split("=", 1)[1] for i in infos
                      if i.type == pafs.FileType.Directory and i.base_name.startswith(f"{key}="))
    if not folder.is_dir():
        return []
    return sorted(p.name.split("=", 1)[1] for p in folder.glob(f"{key}=*") if p.is_dir())


def level_values(tree: Path, levels: Iterable[str], key: str) -> set[str]:
    """Every value of ``key`` in a tree whose folders nest as ``levels`` (e.g. exchange, market, symbol)."""
    order = list(levels)
    if key not in order:
        return set()
    pattern = "/".join(f"{level}=*" for level in order[: order.index(key) + 1])
    return {p.name.split("=", 1)[1] for p in tree.glob(pattern) if p.is_dir()}


def missing_name(what: str, value: str, known: Iterable[str], where: str) -> NotFoundError:
    """``no <what> '<value>'`` with the nearest known names (or the list of them) as the hint."""
    return NotFoundError(f"no {what} '{value}'", where=where, hint=did_you_mean(value, known, what=f"{what}s there"))


def absent_lake(root: Path) -> NotFoundError | None:
    """An error when the lake root does not exist at all (None when it does)."""
    if root.is_dir():
        return None
    return NotFoundError(f"the lake {root} does not exist", where="data_root",
                         hint=f"download data first (`cde download …`), or {POINT_ELSEWHERE}")


def check_trades_present(lake: Lake, exchange: str, market: str, symbols: Iterable[str],
                         start: date | None = None, end: date | None = None) -> None:
    """Raise unless every symbol has at least one trades day in [start, end] in the lake's trade tree,
    naming the first missing exchange, market or symbol with the nearest names, or the days it holds."""
    absent = absent_lake(lake.root)
    if absent is not None:
        raise absent
    folder = lake.root / lake.trade_tree
    for key, value in (("exchange", exchange), ("market", market)):
        known = partition_values(folder, key)
        if value not in known:
            raise missing_name(key, value, known, str(folder))
        folder = folder / f"{key}={value}"
    known = partition_values(folder, "symbol")
    for symbol in symbols:
        if symbol not in known:
            raise missing_name("symbol", symbol, known, str(folder))
        if not lake.trades_files(exchange, market, symbol, start, end):
            days = partition_values(folder / f"symbol={symbol}", "date")
            held = f"the lake holds {days[0]} … {days[-1]}" if days else "the lake holds no day of it"
            raise NotFoundError(f"no {lake.trade_tree} of {symbol} from {start or 'the start'} to {end or 'the end'}",
                                where=str(folder / f"symbol={symbol}"), hint=f"{held}; change --start/--end")


def check_hive_path(tree: Path, *levels: tuple[str, str | Iterable[str]]) -> Path:
    """Walk ``tree/key=value/…`` level by level and raise for the first value that is not there, with
    the nearest names of that level (a level given several values, e.g. symbols, needs every one).
    Returns the folder of the last single-valued level."""
    absent = absent_lake(tree.parent)
    if absent is not None:
        raise absent
    folder = tree
    for key, value in levels:
        known = partition_values(folder, key)
        label = f"{tree.name} {key}" if key == "spec" else key
        for one in [value] if isinstance(value, str) else value:
            if one not in known:
                raise missing_name(label, one, known, str(folder))
        if isinstance(value, str):
            folder = folder / f"{key}={value}"
    return folder


def held_span(folder: Path, symbols: Iterable[str], key: str) -> str:
    """``the lake holds <first> … <last>`` of the ``key`` partitions (month, date) of ``symbols``."""
    values = sorted({v for s in symbols for v in partition_values(folder / f"symbol={s}", key)})
    return f"the lake holds {values[0]} … {values[-1]}" if values else "the lake holds none"
