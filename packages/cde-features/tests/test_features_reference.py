"""The Numba factors equal the plain pandas reference (cde_features.reference) on synthetic bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_features.calculator import UnifiedFeatureCalculator
from cde_features.reference import reference_features
from cde_features.synthetic import synthetic_panel


@pytest.fixture(scope="module")
def both() -> tuple[pd.DataFrame, pd.DataFrame, UnifiedFeatureCalculator]:
    panel = synthetic_panel(6, 720, seed=3)
    calc = UnifiedFeatureCalculator("default", executor=LocalExecutor(LocalExecutorParams(max_workers=1)))
    builtin = [r for r in calc.factors if r.distribution == "cde-features"]
    specs = [(r.name, {**r.params.model_dump(), "_lookback": r.lookback}) for r in builtin]
    return calc.compute(panel), reference_features(panel, specs), calc


def test_every_builtin_column_has_a_reference(both) -> None:
    _ours, ref, calc = both
    builtin = [c for r in calc.factors if r.distribution == "cde-features" for c in r.columns]
    assert sorted(ref.columns) == sorted(builtin)


def test_numba_matches_pandas_reference(both) -> None:
    ours, ref, _ = both
    mismatched = []
    for col in ref.columns:
        a, b = ours[col].to_numpy(), ref[col].to_numpy()
        scale = np.nanmax(np.abs(b)) if np.isfinite(b).any() else 1.0
        if not np.allclose(a, b, rtol=1e-7, atol=1e-9 * max(scale, 1.0), equal_nan=True):
            diff = np.isnan(a) != np.isnan(b)
            mismatched.append((col, int(diff.sum()), float(np.nanmax(np.abs(a - b)))))
    assert not mismatched, mismatched
    assert ours[ref.columns].notna().to_numpy().mean() > 0.5
