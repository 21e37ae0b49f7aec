"""The asset pool: live top-N pairs by quote volume (ccxt) and the point-in-time universe from the lake.

See docs/universe.md. Exports resolve lazily, because ``cde_exchanges.universe.cli`` is imported on
every ``cde`` invocation and must not pull in pandas or ccxt.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LiveTopRequest": "live", "LiveTopResult": "live", "RankedPair": "live", "live_top_pairs": "live",
    "PointInTimeRequest": "point_in_time", "point_in_time_universe": "point_in_time",
    "rebalance_dates": "point_in_time", "daily_quote_volumes": "daily_volume",
    "exclusion_reason": "exclusions", "is_leveraged_token": "exclusions",
    "RecordedRestServer": "recorded_server", "recorded_rest_server": "recorded_server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
