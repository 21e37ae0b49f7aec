"""Independent, reproducible random streams keyed by (seed, stream, symbol, day).

Each random quantity of the simulator draws from its own generator, keyed by what it belongs to.
That is what makes any day computable on its own and in any order, and what keeps a symbol's path
unchanged when another symbol is added to the market or the period is extended.
"""

from __future__ import annotations

import zlib
from datetime import date
from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """One id per random quantity; never renumber (that would change every simulated market)."""

    REGIME = 1
    MARKET_FACTOR = 2
    IDIO = 3
    DRIFT = 4
    LIQUIDITY = 5
    COUNT_NOISE = 6
    BETA = 7
    INTRADAY = 8


def symbol_key(symbol: str) -> int:
    """A stable integer for a symbol (Python's own ``hash`` is salted per process)."""
    return zlib.crc32(symbol.encode())


def rng(seed: int, stream: Stream, symbol: str | None = None, day: date | None = None) -> np.random.Generator:
    """A generator for one stream, optionally one symbol and one day."""
    key = [seed, int(stream)]
    if symbol is not None:
        key.append(symbol_key(symbol))
    if day is not None:
        key.append(day.toordinal())
    return np.random.default_rng(np.random.SeedSequence(key))
