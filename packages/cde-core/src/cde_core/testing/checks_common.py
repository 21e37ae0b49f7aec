"""What every plugin check shares: the contract error, protocol check, and the no-look-ahead proof."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from cde_core.plugin_checks import PluginCheckError, check_object


class ContractViolation(AssertionError):
    """A plugin object breaks its contract; the message says which rule and where."""


def check_protocol(kind: str, protocol: type, obj: object) -> None:
    try:
        check_object(kind, protocol, obj)
    except PluginCheckError as exc:
        raise ContractViolation(str(exc)) from None


PRICE_COLUMNS = ("open", "high", "low", "close", "vwap")


def perturb_after(frame: pd.DataFrame, cut: pd.Timestamp, seed: int) -> pd.DataFrame:
    """``frame`` with every numeric value after ``cut`` changed (prices of a row scaled together, so
    ``low ≤ open, close ≤ high`` still holds; other columns scaled independently)."""
    out = frame.copy()
    after = times_of(frame) > cut
    rng = np.random.default_rng(seed)
    price_scale = rng.uniform(0.5, 1.5, int(after.sum()))
    for column in out.columns:
        if not pd.api.types.is_float_dtype(out[column]):
            continue
        scale = price_scale if column in PRICE_COLUMNS else rng.uniform(0.5, 1.5, int(after.sum()))
        values = out[column].to_numpy(copy=True)
        values[after] = values[after] * scale
        out[column] = values
    return out


def times_of(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    index = frame.index
    return np.asarray(index.get_level_values(0) if isinstance(index, pd.MultiIndex) else index)


def assert_same(expected: pd.DataFrame, actual: pd.DataFrame, message: str) -> None:
    """Equal values (NaN equal to NaN, relative tolerance 1e-9); names the first differing cell."""
    left = expected.to_numpy(dtype=np.float64)
    right = actual.reindex(index=expected.index, columns=expected.columns).to_numpy(dtype=np.float64)
    close = np.isclose(left, right, rtol=1e-9, atol=1e-12, equal_nan=True)
    if not close.all():
        row, col = np.argwhere(~close)[0]
        raise ContractViolation(f"{message} (first at {expected.index[row]}, column {expected.columns[col]}: "
                                f"{left[row, col]!r} vs {right[row, col]!r})")


def assert_no_lookahead(run: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame, full: pd.DataFrame,
                        label: str, *, seed: int = 0) -> None:
    """Values up to each of a few cut times must not change when the data after the cut is removed
    (truncate) or changed (perturb). ``run`` maps input rows to output rows on the same index."""
    times = np.unique(times_of(frame))
    for k, fraction in enumerate((0.4, 0.65, 0.9)):
        cut = times[int(len(times) * fraction)]
        past = times_of(frame) <= cut
        truncated = run(frame[past].copy())
        assert_same(full[past], truncated, f"{label} looks ahead: its values up to {cut} change when the "
                                           "rows after it are removed")
        perturbed = run(perturb_after(frame, cut, seed + k))
        assert_same(full[past], perturbed[past], f"{label} looks ahead: its values up to {cut} change when "
                                                 "the rows after it change")
