"""The kline intervals the Binance archive publishes, and their lengths.

binance-public-data README ("Klines" / ``python/enums.py``): ``1s`` (spot only), ``1m 3m 5m 15m 30m
1h 2h 4h 6h 8h 12h 1d``; the ``3d 1w 1mo`` files exist too but span days, so they do not fit the
lake's day partitions and are not offered. Intervals are aligned to the UTC epoch.
"""

from __future__ import annotations

from cde_core.errors import DataError

SECOND_US = 1_000_000
INTERVAL_US: dict[str, int] = {
    "1s": SECOND_US, "1m": 60 * SECOND_US, "3m": 180 * SECOND_US, "5m": 300 * SECOND_US,
    "15m": 900 * SECOND_US, "30m": 1_800 * SECOND_US, "1h": 3_600 * SECOND_US, "2h": 7_200 * SECOND_US,
    "4h": 14_400 * SECOND_US, "6h": 21_600 * SECOND_US, "8h": 28_800 * SECOND_US, "12h": 43_200 * SECOND_US,
    "1d": 86_400 * SECOND_US,
}
SPOT_ONLY = frozenset({"1s"})


def interval_us(interval: str | None, market: str) -> int:
    """Length of ``interval`` in µs; a one-line error for an interval the archive has not for ``market``."""
    if interval is None:
        raise DataError("klines need an interval", where="--interval", hint=f"one of {', '.join(INTERVAL_US)}")
    if interval not in INTERVAL_US:
        raise DataError(f"unknown kline interval '{interval}'", where="--interval",
                        hint=f"one of {', '.join(INTERVAL_US)}")
    if interval in SPOT_ONLY and market != "spot":
        raise DataError(f"{interval} klines are published for spot only, not {market}", where="--interval",
                        hint="use 1m or longer")
    return INTERVAL_US[interval]
