"""Calling a registered signal generator from a built-in strategy or signal, checking what comes back.

``signal_xs`` / ``signal_ts`` and ``ensemble`` run any registered generator; a third-party one that
returns no Series on the features' ``(ts, symbol)`` index is reported with its name and distribution
instead of failing later inside the built-in that called it ("'list' object has no attribute …").
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cde_core.plugin_faults import fault_of_object
from cde_core.plugins import get_plugins


def generate(name: str, features: pd.DataFrame, params: dict[str, Any]) -> pd.Series:
    """``generate`` of the registered signal ``name`` with validated ``params``, its output checked."""
    entry = get_plugins().signals.entry(name)
    generator = entry.obj
    values = generator.generate(features, generator.Params.model_validate(params))
    if entry.builtin:
        return values  # type: ignore[no-any-return]
    if not isinstance(values, pd.Series):
        raise fault_of_object(entry, f"returned a {type(values).__name__} from generate; expected a float Series "
                                     "on the features' (ts, symbol) index")
    if not values.index.equals(features.index):
        raise fault_of_object(entry, f"returned {len(values)} values on a different index from generate; "
                                     f"expected the features' {len(features)} (ts, symbol) rows")
    return values
