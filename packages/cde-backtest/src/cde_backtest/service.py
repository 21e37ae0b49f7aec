"""The backtest service: the one function the CLI, the REST API and the demo call.

request → load the panel from the lake → strategy weights → engine → run folder (+ report).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from cde_backtest.models import BacktestRequest, RunResult
from cde_core.errors import CancelledError, ConfigError, NotFoundError, first_validation_problem
from cde_core.lake import Lake
from cde_core.plugin_faults import fault_of_object
from cde_core.plugins import get_plugins
from cde_core.progress import CancelToken, ProgressCallback, no_progress
from cde_core.suggest import did_you_mean


def _validate(model: type[BaseModel], data: dict[str, Any], where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        key, message = first_validation_problem(exc, root="(root)")
        hint = "see `cde backtest strategies` / `cde backtest engines` for the schema"
        first = exc.errors()[0]
        if first["type"] == "extra_forbidden":  # a misspelt parameter: name the ones it may have meant
            parent: Any = model
            for part in first["loc"][:-1]:
                parent = getattr(parent.model_fields.get(str(part)), "annotation", None)
            fields = getattr(parent, "model_fields", {})
            hint = did_you_mean(str(first["loc"][-1]), fields, what="parameters") if fields else hint
        raise ConfigError(f"bad {where} parameter '{key}': {message}", where=where, hint=hint) from None


def resolve(request: BacktestRequest) -> tuple[Any, BaseModel, Any, BaseModel]:
    """Look up the strategy and its engine and validate both parameter sets (before reading data)."""
    plugins = get_plugins()
    strategy = plugins.strategies.get(request.strategy)
    try:
        engine = plugins.engines.get(strategy.engine)
    except NotFoundError as exc:  # the strategy's own choice, not the user's: a plugin's is its fault
        entry = plugins.strategies.entry(request.strategy)
        if entry.builtin:
            raise
        raise fault_of_object(entry, f"names the engine {strategy.engine!r}, which is not installed "
                                     f"({exc.hint})") from None
    return (strategy, _validate(strategy.Params, request.params, f"strategy {strategy.name}"),
            engine, _validate(engine.Params, request.engine, f"engine {engine.name}"))


def _check_weights(name: str, weights: Any) -> None:
    """A third-party strategy's ``target_weights`` returned a float Series on ``(ts, symbol)``; a wrong
    shape is its fault, named, not the engine's "weights must be indexed by (ts, symbol)"."""
    entry = get_plugins().strategies.entry(name)
    if entry.builtin:
        return
    if not isinstance(weights, pd.Series):
        raise fault_of_object(entry, f"returned a {type(weights).__name__} from target_weights; expected a float "
                                     "Series on the panel's (ts, symbol) index")
    if not isinstance(weights.index, pd.MultiIndex) or list(weights.index.names) != ["ts", "symbol"]:
        raise fault_of_object(entry, f"returned weights indexed by {list(weights.index.names)} from "
                                     "target_weights; expected the panel's (ts, symbol) index")


def check_inputs(request: BacktestRequest, lake: Lake) -> None:
    """The bars (and features) the run reads are in the lake: a misspelt spec, exchange, market or
    symbol is refused at submit (4xx) with the nearest names, not a task that fails after the queue."""
    from cde_core.lake_names import check_hive_path, check_span_held

    if request.symbols is not None:
        check_benchmark(request, lake)  # against the request alone: a benchmark outside the symbols
    folder = check_hive_path(lake.root / "bars", ("spec", request.bars), ("exchange", request.exchange),
                             ("market", request.market), ("symbol", list(request.symbols or [])))
    # the end is exclusive here: a run to 2024-02-01T00:00 holds no bar of February 1
    last = None if request.end is None else (request.end - timedelta(microseconds=1)).date()
    check_span_held(folder, request.symbols or [], None if request.start is None else request.start.date(), last,
                    what="bars", where=f"bars/spec={request.bars}")
    check_universe(request, lake)
    if request.features is not None:
        check_hive_path(lake.root / "features", ("spec", request.features), ("exchange", request.exchange),
                        ("market", request.market))
    check_benchmark(request, lake)


def check_universe(request: BacktestRequest, lake: Lake) -> None:
    """Every member of an inline universe is a symbol the run loads: a misspelt member would otherwise
    never be traded, without a word (the run on the remaining members looks complete)."""
    from cde_core.errors import DataError
    from cde_core.lake_names import check_hive_path

    members = sorted({s for symbols in (request.universe or {}).values() for s in symbols})
    if request.symbols is not None:
        outside = [s for s in members if s not in request.symbols]
        if outside:
            raise DataError(f"universe member(s) {', '.join(outside)} not among the run's symbols",
                            where="universe", hint="add them to symbols, or drop them from the universe")
    check_hive_path(lake.root / "bars", ("spec", request.bars), ("exchange", request.exchange),
                    ("market", request.market), ("symbol", members))


def check_benchmark(request: BacktestRequest, lake: Lake) -> None:
    """A named benchmark must be a symbol the run loads; refused at submit (4xx), not replaced by the
    equal-weight basket."""
    from cde_core.errors import DataError, NotFoundError

    if request.benchmark is None:
        return
    if request.symbols is not None:
        if request.benchmark not in request.symbols:
            raise DataError(f"benchmark '{request.benchmark}' is not among the run's symbols",
                            where="benchmark", hint="add it to symbols, or leave benchmark out for the "
                                                    "equal-weight basket")
        return
    folder = lake.bars_dir(request.bars, request.exchange, request.market, request.benchmark)
    if not folder.is_dir():
        symbols_dir = folder.parent
        known = sorted(p.name.removeprefix("symbol=") for p in symbols_dir.glob("symbol=*")) \
            if symbols_dir.is_dir() else []
        raise NotFoundError(f"no bars of benchmark '{request.benchmark}' in spec '{request.bars}' "
                            f"({request.exchange}/{request.market})", where="benchmark",
                            hint=f"{did_you_mean(request.benchmark, known, what='symbols in the spec')}; build "
                                 "its bars first, or leave benchmark out for the equal-weight basket")


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def run_on_panel(request: BacktestRequest, panel: pd.DataFrame, lake: Lake, *,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                 run_id: str | None = None, self_contained: bool = False,
                 notices: list[str] | None = None) -> RunResult:
    """Run ``request`` on an already-loaded panel (tests, notebooks) and store the run folder.

    The report loads plotly.js from the lake's shared ``assets/`` copy; ``self_contained`` inlines it
    instead (one file to mail, ~4.6 MB larger). ``notices`` are said before the run's own (e.g. the
    data coverage gaps :func:`cde_backtest.data.load_panel` found)."""
    from cde_backtest.flat_run import refuse_flat_run
    from cde_backtest.report import ReportInputs, benchmark_nav, build_report
    from cde_backtest.run_notices import run_notices
    from cde_backtest.run_store import RunStore, new_run_id
    from cde_core.visual.plotly_asset import PlotlyScript

    report = progress or no_progress
    strategy, strategy_params, engine, engine_params = resolve(request)

    def check(step: str) -> None:
        if cancel is not None and cancel.cancelled:
            raise CancelledError("backtest cancelled", where=step)

    from cde_backtest.market import checked_bars

    panel = checked_bars(panel)  # the strategy sees the bars the engine trades: UTC, checked
    report(0.3, "strategy weights")
    weights = strategy.target_weights(panel, strategy_params)
    _check_weights(request.strategy, weights)
    check("strategy")
    report(0.5, f"engine {engine.name}")
    result = engine.run(panel, weights, engine_params)
    check("engine")
    refuse_flat_run(strategy.name, panel, weights, result.metrics.n_trades, strategy_params)
    report(0.7, "report")
    sim = result.simulation
    nav = result.nav
    bars_close = pd.DataFrame(sim.market.close, index=sim.index, columns=sim.market.symbols)  # NaN: no bar
    nav["benchmark"] = benchmark_nav(bars_close, sim.initial_cash, request.benchmark).to_numpy()
    close = pd.DataFrame(sim.marks, index=sim.index, columns=sim.market.symbols)  # last known closes
    run_id = run_id or new_run_id(request.strategy, request.name)
    start, end = sim.index[0].to_pydatetime(), sim.index[-1].to_pydatetime()
    notices = [*(notices or []), *run_notices(sim)]
    positions = result.positions.stack().rename("qty").reset_index()
    weights_long = result.weights.stack().rename("weight").reset_index()
    positions["weight"] = weights_long["weight"].to_numpy()
    positions = positions[positions["qty"] != 0.0].reset_index(drop=True)
    positions["symbol"] = positions["symbol"].astype(str)
    trades = result.trades.copy()
    trades["symbol"] = trades["symbol"].astype(str)
    trades["reason"] = trades["reason"].astype(str)
    last_close = close.iloc[-1] if len(close) else pd.Series(dtype=float)
    config = {
        "run_id": run_id,
        "created": datetime.now(UTC).isoformat(),
        "request": request.model_dump(mode="json"),
        "resolved": {"strategy_params": strategy_params.model_dump(mode="json"),
                     "engine": engine.name, "engine_params": engine_params.model_dump(mode="json")},
        "data": {"symbols": list(sim.market.symbols), "bars": len(sim.index),
                 "start": start.isoformat(), "end": end.isoformat(), "initial_cash": sim.initial_cash,
                 # valuation of positions still open at the end (the report's round trips)
                 "last_close": {str(k): float(v) for k, v in last_close.items() if pd.notna(v)}},
        "notices": notices,
        "versions": {d: _version(d) for d in ("cde-core", "cde-backtest")},
    }
    store = RunStore(lake)
    inputs = ReportInputs(title=f"{request.strategy} — {run_id}", nav=nav, contributions=result.contributions,
                          metrics=result.metrics, initial_cash=sim.initial_cash, trades=trades, config=config,
                          last_close=config["data"]["last_close"], notices=notices)
    html = build_report(inputs, PlotlyScript.inline() if self_contained else store.plotly_script())
    check("report")
    report(0.85, "saving run")
    folder = store.save(run_id, config=config, metrics=result.metrics, nav=nav, positions=positions,
                        trades=trades, contributions=result.contributions, report_html=html)
    report(1.0, "done")
    return RunResult(run_id=run_id, run_dir=str(folder), report=str(folder / "report.html"),
                     strategy=request.strategy, engine=engine.name, symbols=list(sim.market.symbols),
                     start=start, end=end, n_bars=len(sim.index), metrics=result.metrics, notices=notices)


def run_backtest(request: BacktestRequest, lake: Lake, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, *, universe: pd.DataFrame | None = None,
                 self_contained: bool = False) -> RunResult:
    """Load bars (+ features) from the lake, run the strategy on its engine, save the run folder.

    ``universe`` (rows of date/ts and symbol, e.g. a point-in-time universe table) or
    ``request.universe`` restricts trading to members at each bar.
    """
    from cde_backtest.data import COVERAGE_ATTR, load_panel, universe_column

    report = progress or no_progress
    resolve(request)  # fail on bad names / params before touching data
    if request.universe:
        check_universe(request, lake)
    report(0.02, "loading bars")
    panel = load_panel(lake, bars=request.bars, features=request.features, exchange=request.exchange,
                       market=request.market, symbols=request.symbols, start=request.start, end=request.end)
    coverage = list(panel.attrs.get(COVERAGE_ATTR, []))
    if universe is not None or request.universe:
        membership = universe_column(panel, universe if universe is not None else request.universe)
        panel = panel.assign(in_universe=membership)  # one new block, not an insert into ~170 columns
    if cancel is not None and cancel.cancelled:
        raise CancelledError("backtest cancelled", where="loading")
    return run_on_panel(request, panel, lake, progress=report, cancel=cancel, self_contained=self_contained,
                        notices=coverage)
