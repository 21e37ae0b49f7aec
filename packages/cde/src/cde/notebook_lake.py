"""One object for a notebook: every stage of cde on one lake folder.

Reading (trades, bars, features) needs only the lake (:mod:`cde_core.lake`); doing (import, aggregate,
compute, backtest) goes through the services the installed plugins register (``register_services``),
looked up by name, so this module imports no stage package and works with whichever are installed.
A stage that is not installed is one error naming the distribution to ``pip install``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from cde.runs import Run
from cde_core.errors import CdeError, ConfigError, NotFoundError, first_validation_problem
from cde_core.lake import Lake as CoreLake
from cde_core.lake_location import LakePath, arrow_target, lake_root
from cde_core.lake_names import check_hive_path, check_trades_present, raise_if_absent

#: the distribution that ships each built-in service (named in the error when it is not installed)
PROVIDERS = {"trades.import": "cde-exchanges", "bars.import": "cde-exchanges", "bars.aggregate": "cde-bars",
             "features.compute": "cde-features", "backtest.run": "cde-backtest"}


def _symbols(symbols: str | Iterable[str] | None) -> list[str] | None:
    if symbols is None:
        return None
    if isinstance(symbols, str):
        return [s.strip() for s in symbols.split(",") if s.strip()]
    return list(symbols)


def _day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _frame_symbols(frame: pd.DataFrame) -> list[str] | None:
    """The symbols of a bars or features frame (a ``symbol`` column or index level), sorted."""
    if "symbol" in frame.columns:
        values = frame["symbol"]
    elif "symbol" in (frame.index.names or []):
        values = frame.index.get_level_values("symbol")
    else:
        return None
    return sorted({str(v) for v in values}) or None


def _frame_clock(frame: pd.DataFrame) -> pd.Series | None:
    """The bar clock of a bars frame (``period_start`` of time bars, else ``ts``)."""
    for name in ("period_start", "ts"):
        if name in frame.columns:
            return pd.to_datetime(frame[name], utc=True)
    return None


class Lake:
    """The lake at ``root`` — a folder (created on first write) or ``s3://bucket/prefix`` — with every
    installed stage as a method.

    Example (docs/notebook.md)::

        lake = Lake("data")
        lake.import_trades("ticks.csv", exchange="cme", market="futures", symbol="ES",
                           columns={"ts": "Date and Time", "price": "Price", "qty": "Volume"})
        bars = lake.bars("tick", threshold=10, exchange="cme", market="futures", symbols="ES")
    """

    def __init__(self, root: str | Path) -> None:
        self.root: LakePath = lake_root(root)
        self.core = CoreLake(self.root)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # -- the plugin services -----------------------------------------------------------------------
    def services(self) -> list[str]:
        """Names of the installed services (``bars.aggregate``, ``backtest.run`` …)."""
        from cde_core.plugins import get_plugins

        return get_plugins().services.names()

    def call(self, name: str, **fields: Any) -> Any:
        """Run service ``name`` with its request ``fields`` on this lake; returns its report."""
        from cde_core.plugins import get_plugins

        registry = get_plugins().services
        if name not in registry:
            provider = PROVIDERS.get(name)
            raise NotFoundError(f"no installed stage offers '{name}'",
                                hint=f"pip install {provider}" if provider else
                                f"installed services: {', '.join(registry.names()) or 'none'}")
        service = registry.get(name)
        try:
            request: BaseModel = service.Params.model_validate(fields)
        except ValidationError as exc:
            key, message = first_validation_problem(exc, root="(request)")
            raise ConfigError(f"bad argument '{key}' for {name}: {message}", where=name,
                              hint=f"arguments: {', '.join(service.Params.model_fields)}") from None
        entry = registry.entry(name)
        if entry.builtin:
            return service.run(request, self.core)
        try:
            return service.run(request, self.core)
        except (CdeError, KeyboardInterrupt):
            raise
        except BaseException as exc:  # a plugin's service (sys.exit() too): name it, never end the script
            from cde_core.plugin_checks import describe
            from cde_core.plugin_faults import fault_of_object

            raise fault_of_object(entry, f"failed: {describe(exc)}") from exc

    # -- your own data in ------------------------------------------------------------------------
    def import_trades(self, *files: str | Path, exchange: str, market: str, symbol: str,
                      **options: Any) -> Any:
        """``cde import trades``: options ``columns`` (role → column), ``time`` ({"unit", "format",
        "timezone"}), ``force``, ``new_name`` (a name close to one in the lake is meant), ``first_trade_id``."""
        return self.call("trades.import", files=[Path(f) for f in files], exchange=exchange, market=market,
                         symbol=symbol, **options)

    def import_bars(self, *files: str | Path, exchange: str, market: str, symbol: str, **options: Any) -> Any:
        """``cde import bars``: options ``interval``, ``name``, ``columns``, ``time``, ``force``."""
        return self.call("bars.import", files=[Path(f) for f in files], exchange=exchange, market=market,
                         symbol=symbol, **options)

    # -- reading ---------------------------------------------------------------------------------
    def _name_missing_trades(self, exchange: str, market: str, symbols: list[str], start: date | None = None,
                             end: date | None = None) -> None:
        """Raise the error naming what is missing — the lake itself (a misspelt bucket or prefix), or the
        exchange, market, symbol or days with the nearest present — once a lake holds trades at all."""
        raise_if_absent(self.core.root)
        if (self.core.root / self.core.trade_tree).exists():
            check_trades_present(self.core, exchange, market, symbols, start, end)

    def trades(self, exchange: str, market: str, symbol: str, start: str | date | None = None,
               end: str | date | None = None) -> pd.DataFrame:
        """One symbol's trades (canonical columns), days ``start`` … ``end`` inclusive."""
        import pyarrow.parquet as pq

        files = self.core.trades_files(exchange, market, symbol, _day(start), _day(end))
        if not files:  # name what is missing: the lake (bucket, prefix), exchange, market, symbol or days
            self._name_missing_trades(exchange, market, [symbol], _day(start), _day(end))
            raise NotFoundError(f"no trades of {symbol} in {exchange}/{market}", where=str(self.root / "trades"),
                                hint="import them (lake.import_trades) or download them (cde download)")
        tables = [pq.read_table(where, filesystem=filesystem) for where, filesystem in map(arrow_target, files)]
        trades: pd.DataFrame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
        return trades

    def read_bars(self, spec: str, exchange: str, market: str, symbols: str | Iterable[str] | None = None
                  ) -> pd.DataFrame:
        """Stored bars of ``spec`` with a ``symbol`` column, sorted by symbol then time."""
        base = self.core.root / "bars" / f"spec={spec}" / f"exchange={exchange}" / f"market={market}"
        if not base.exists():
            raise_if_absent(self.core.root)
            if (self.core.root / "bars").exists():  # a misspelt spec, exchange or market: the nearest present
                check_hive_path(self.core.root / "bars", ("spec", spec), ("exchange", exchange), ("market", market))
            raise NotFoundError(f"no bars of spec {spec} in {exchange}/{market}", where=str(base),
                                hint="build them with lake.bars(...) or import them with lake.import_bars(...)")
        wanted = _symbols(symbols)
        if wanted:  # a misspelt symbol names the nearest held ones (it gave an empty or short frame)
            check_hive_path(self.core.root / "bars", ("spec", spec), ("exchange", exchange), ("market", market),
                            ("symbol", wanted))
        table = self.core.hive_dataset(base).to_table()
        frame: pd.DataFrame = table.to_pandas()
        frame["symbol"] = frame["symbol"].astype(str)
        if wanted:
            frame = frame[frame["symbol"].isin(wanted)]
        frame = frame.drop(columns=["month"], errors="ignore").sort_values(["symbol", "ts"], kind="stable")
        frame = frame.reset_index(drop=True)
        frame.attrs.update(spec=spec, exchange=exchange, market=market)
        return frame

    def bars(self, bar: str = "time", *, exchange: str, market: str, symbols: str | Iterable[str],
             start: str | date | None = None, end: str | date | None = None, flush: bool = False,
             **params: Any) -> pd.DataFrame:
        """Build (or reuse: an unchanged spec is not rebuilt) bars with builder ``bar`` and its ``params``
        (``interval="1h"``, ``threshold=10`` …) from the trades lake, and return them. The frame's
        ``attrs["spec"]`` is the bar spec id, which :meth:`features` and :meth:`backtest` take."""
        names = _symbols(symbols) or []
        first, last = _day(start), _day(end)
        if first is None or last is None:
            days = [f.parent.name.removeprefix("date=") for s in names
                    for f in self.core.trades_files(exchange, market, s)]
            if not days:
                self._name_missing_trades(exchange, market, names)
                raise NotFoundError(f"no trades of {', '.join(names)} in {exchange}/{market}",
                                    where=str(self.root / "trades"), hint="import or download them first")
            first = first or date.fromisoformat(min(days))
            last = last or date.fromisoformat(max(days))
        report = self.call("bars.aggregate", bar=bar, params=params, exchange=exchange, market=market,
                           symbols=names, start=first, end=last, flush=flush)
        return self.read_bars(report.spec_id, exchange, market, names)

    def features(self, bars: str | pd.DataFrame, *, exchange: str | None = None, market: str | None = None,
                 symbols: str | Iterable[str] | None = None, feature_set: str = "default",
                 factors: Iterable[str] | None = None, **options: Any) -> pd.DataFrame:
        """Compute ``feature_set`` (or only ``factors``) on bars spec ``bars`` (or the frame :meth:`bars`
        returned), store it, and return the panel indexed by ``(ts, symbol)``; ``attrs["spec"]`` is the
        features spec id."""
        spec, exchange, market = self._bars_source(bars, exchange, market)
        wanted = _symbols(symbols) or (_frame_symbols(bars) if isinstance(bars, pd.DataFrame) else None) or []
        result = self.call("features.compute", bars=spec, exchange=exchange, market=market,
                           symbols=wanted, feature_set=feature_set, factors=list(factors or []), **options)
        base = self.core.root / "features" / f"spec={result.spec}" / f"exchange={exchange}" / f"market={market}"
        panel: pd.DataFrame = self.core.hive_dataset(base).to_table().to_pandas()
        panel["symbol"] = panel["symbol"].astype(str)
        if wanted:  # the folder may hold other symbols computed earlier
            panel = panel[panel["symbol"].isin(wanted)]
        frame = panel.set_index(["ts", "symbol"]).sort_index()
        frame.attrs.update(spec=result.spec, bars=spec, exchange=exchange, market=market)
        return frame

    def backtest(self, config: dict[str, Any] | None = None, **fields: Any) -> Run:
        """Run a backtest (the fields of ``cde backtest run``'s YAML: strategy, params, engine, bars,
        features …; ``bars`` / ``features`` may be frames from :meth:`bars` / :meth:`features`). A bars
        frame is the data: unless ``symbols`` / ``start`` / ``end`` are given, the run trades its symbols
        over its first to its last bar (a frame filtered to one symbol or a few weeks runs on those)."""
        body = {**(config or {}), **fields}
        bars = body.get("bars")
        for key in ("bars", "features"):
            if isinstance(body.get(key), pd.DataFrame):
                spec, exchange, market = self._bars_source(body[key], body.get("exchange"), body.get("market"))
                body.update({key: spec, "exchange": exchange, "market": market})
        if isinstance(bars, pd.DataFrame):  # the run trades the frame's symbols over the frame's bars
            body.setdefault("symbols", _frame_symbols(bars))
            clock = _frame_clock(bars)
            if clock is not None and len(clock):
                body.setdefault("start", clock.min().to_pydatetime())
                body.setdefault("end", (clock.max() + pd.Timedelta(microseconds=1)).to_pydatetime())
        return Run(self.call("backtest.run", **body))

    def _bars_source(self, bars: str | pd.DataFrame, exchange: str | None,
                     market: str | None) -> tuple[str, str, str]:
        if isinstance(bars, pd.DataFrame):
            exchange, market = exchange or bars.attrs.get("exchange"), market or bars.attrs.get("market")
            if "spec" not in bars.attrs or exchange is None or market is None:
                raise ConfigError("this frame does not say which lake data it holds (its attrs lack the spec, "
                                  "exchange or market)", hint="pass a frame lake.bars(...), lake.read_bars(...) "
                                  "or lake.features(...) returned, or the spec id with exchange= and market=")
            return bars.attrs["spec"], exchange, market
        if exchange is None or market is None:
            raise ConfigError("exchange and market are needed with a bars spec id",
                              hint="e.g. lake.features('time-1h', exchange='binance', market='spot')")
        return bars, exchange, market
