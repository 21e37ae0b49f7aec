"""Analyse feature columns against forward returns: the results behind ``cde features analyze``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cde_core.bar_panels import check_unique_bars, utc_index, utc_panel
from cde_core.errors import DataError
from cde_features.analysis.metrics import (
    MIN_NAMES,
    forward_returns,
    information_coefficients,
    on_bar_grid,
    quantile_returns_by_time,
    quantile_turnover_series,
    rank_autocorrelation_series,
    summarize_ic,
)


@dataclass
class ColumnAnalysis:
    """Everything measured for one feature column."""

    column: str
    ic: dict[int, pd.DataFrame]                 # horizon → per-timestamp ic / rank_ic
    ic_summary: dict[int, dict[str, float]]     # horizon → summary of the IC series
    rank_ic_summary: dict[int, dict[str, float]]
    quantile_returns: dict[int, pd.Series]      # horizon → mean forward return by quantile
    turnover_top: float
    turnover_bottom: float
    autocorrelation: float
    quantile_returns_by_time: dict[int, pd.DataFrame] = field(default_factory=dict)  # horizon → t × quantile
    turnover: pd.DataFrame = field(default_factory=pd.DataFrame)   # per t: top, bottom quantile turnover
    autocorrelation_series: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))  # per t, lag 1


@dataclass
class FactorAnalysis:
    horizons: list[int]
    quantiles: int
    columns: list[ColumnAnalysis] = field(default_factory=list)
    n_symbols: int = 0  # symbols in the panel: below MIN_NAMES there is no IC, below quantiles no spread

    def notes(self) -> list[str]:
        """Why whole columns of :meth:`table` are undefined (NaN), said in words."""
        out = []
        if self.n_symbols < MIN_NAMES:
            out.append(f"the panel has {self.n_symbols} symbol(s): a cross-sectional IC and rank "
                       f"autocorrelation need at least {MIN_NAMES} at a timestamp")
        if self.n_symbols < self.quantiles:
            out.append(f"{self.quantiles} quantiles need at least {self.quantiles} symbols at a timestamp "
                       f"(the panel has {self.n_symbols}): no quantile spread or turnover; try --quantiles "
                       f"{max(2, self.n_symbols)}" if self.n_symbols >= 2 else
                       f"{self.quantiles} quantiles need at least {self.quantiles} symbols at a timestamp "
                       f"(the panel has {self.n_symbols}): no quantile spread or turnover")
        return out

    def table(self) -> pd.DataFrame:
        """One row per (column, horizon): IC / rank IC stats, top-minus-bottom spread, turnover."""
        rows = []
        for col in self.columns:
            for h in self.horizons:
                ic, ric = col.ic_summary[h], col.rank_ic_summary[h]
                q = col.quantile_returns[h]
                rows.append({"column": col.column, "horizon": h, "ic_mean": ic["mean"], "rank_ic_mean": ric["mean"],
                             "rank_ic_ir": ric["ir"], "rank_ic_t": ric["t"], "hit_rate": ric["hit_rate"],
                             "top_minus_bottom": q.iloc[-1] - q.iloc[0] if len(q) else float("nan"),
                             "turnover_top": col.turnover_top, "autocorr": col.autocorrelation})
        return pd.DataFrame(rows)


def _finite(wide: pd.DataFrame) -> pd.DataFrame:
    """±inf (a division by zero in a user's column) is missing, in every statistic alike: the Pearson IC
    skipped it while the ranks and quantiles took it for the largest value."""
    return wide.where(np.isfinite(wide.to_numpy(dtype=np.float64)))


def _mean(series: pd.Series) -> float:
    values = series.dropna()
    return float(values.mean()) if len(values) else float("nan")


def analyze_factors(features: pd.DataFrame, close: pd.Series, *, columns: list[str] | None = None,
                    horizons: tuple[int, ...] | list[int] = (1, 24, 168), quantiles: int = 5,
                    bar_interval: str | pd.Timedelta | None = None) -> FactorAnalysis:
    """Analyse ``columns`` of a feature panel (index ``(ts, symbol)``) against forward returns of
    ``close`` (same index) at each horizon (in bars).

    Time bars are analysed on their grid (``bar_interval``, else ``features.attrs['bar_interval']`` as
    the bars readers set it): a missing bar is a NaN, so the 1-bar forward return before an outage is
    NaN rather than a return over the outage, and turnover and autocorrelation never compare a bar
    with one several intervals earlier. Threshold bars (no interval) count rows."""
    from cde_features.panel_checks import bar_interval_of

    horizons = sorted({int(h) for h in horizons})
    if not horizons or horizons[0] < 1:
        raise DataError("horizons must be positive numbers of bars", hint="e.g. --horizons 1,24,168")
    if quantiles < 2:
        raise DataError("at least 2 quantiles are needed", hint="e.g. --quantiles 5")
    columns = list(columns or features.columns)
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise DataError(f"no feature column(s) {', '.join(missing)}", hint="see the computed columns")
    step = bar_interval_of(features, bar_interval)
    # both on UTC instants (zone-less = UTC): a zone-less frame against a zoned one matched no row
    features = utc_panel(features, what="the features")
    check_unique_bars(features, what="the features frame")
    if not isinstance(close, pd.Series):
        raise DataError("close must be a pandas Series indexed by (ts, symbol)", hint="e.g. bars['close']")
    close = close.set_axis(utc_index(close.index, what="close")).reindex(features.index)
    if close.notna().sum() == 0 and len(features):
        ts, symbol = features.index[0]
        raise DataError(f"no close matches a feature row: e.g. {symbol} at {ts} has no close",
                        hint="pass the closes of the bars the features were computed from")
    fwd = forward_returns(close, horizons, step_ns=step)
    fwd_wide = {h: _finite(on_bar_grid(fwd[f"fwd_{h}"].unstack(1), step)) for h in horizons}
    result = FactorAnalysis(horizons=horizons, quantiles=quantiles,
                            n_symbols=int(features.index.get_level_values(1).nunique()))
    for column in columns:
        wide = _finite(on_bar_grid(features[column].unstack(1), step))
        ics = {h: information_coefficients(wide, fwd_wide[h]) for h in horizons}
        by_time = {h: quantile_returns_by_time(wide, fwd_wide[h], quantiles) for h in horizons}
        turnover = pd.DataFrame({"top": quantile_turnover_series(wide, quantiles, quantiles),
                                 "bottom": quantile_turnover_series(wide, quantiles, 1)})
        autocorrelation = rank_autocorrelation_series(wide, 1)
        result.columns.append(ColumnAnalysis(
            column=column, ic=ics,
            ic_summary={h: summarize_ic(ics[h]["ic"]) for h in horizons},
            rank_ic_summary={h: summarize_ic(ics[h]["rank_ic"]) for h in horizons},
            quantile_returns={h: by_time[h].mean().rename("mean_fwd_return") for h in horizons},
            turnover_top=_mean(turnover["top"]), turnover_bottom=_mean(turnover["bottom"]),
            autocorrelation=_mean(autocorrelation),
            quantile_returns_by_time=by_time, turnover=turnover, autocorrelation_series=autocorrelation,
        ))
    return result
