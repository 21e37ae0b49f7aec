"""Calling a factor's protocol ``compute`` and checking what comes back.

A third-party factor that raises or returns the wrong shape is reported with its name and its
distribution (a :class:`cde_core.plugin_faults.PluginFault`), never as an internal error of cde; the
check runs inside the job, so it holds on thread, process and Dask executors alike.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel

from cde_core.errors import CdeError, DataError
from cde_core.plugin_checks import describe
from cde_core.plugin_faults import fault_of_object, owner_entry


def factor_problem(factor: Any, problem: str) -> CdeError:
    """The error for ``factor`` doing ``problem``: blames a third-party factor's distribution."""
    entry = owner_entry("factors", factor)
    if entry is not None and not entry.builtin:
        return fault_of_object(entry, problem)
    return DataError(f"factor '{getattr(factor, 'name', factor)}' {problem}")


def checked_compute(factor: Any, bars: pd.DataFrame, params: BaseModel, columns: list[str]) -> pd.DataFrame:
    """``factor.compute(bars, params)``, with the output proved to have ``columns`` on ``bars.index``."""
    try:
        result = factor.compute(bars, params)
    except CdeError:
        raise
    except Exception as exc:
        raise factor_problem(factor, f"failed in compute: {describe(exc)}") from exc
    if not isinstance(result, pd.DataFrame):
        raise factor_problem(factor, f"returned a {type(result).__name__} from compute; expected a DataFrame "
                                     f"with columns {', '.join(columns)}")
    missing = [c for c in columns if c not in result.columns]
    if missing:
        raise factor_problem(factor, f"returned no column(s) {', '.join(missing)} (got "
                                     f"{', '.join(map(str, result.columns)) or 'none'})")
    if len(result) != len(bars) or not result.index.equals(bars.index):
        raise factor_problem(factor, f"returned {len(result)} rows on a different index; expected the "
                                     f"{len(bars)} rows of the bars it was given, same index")
    return result
