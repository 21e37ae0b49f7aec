"""Which pairs never belong in a trading universe, as one documented rule (docs/universe.md).

A top-N by quote volume is dominated by pairs that are not investable risk: stablecoins against
stablecoins (USDC/USDT trades billions at a fixed price), fiat against stablecoins, and leveraged
tokens (BTCUP, ETHBEAR: derivatives that rebalance daily and were delisted en masse). A pair is
excluded when any clause below holds; the first matching clause is reported as the reason.
"""

from __future__ import annotations

import re
from collections.abc import Collection

#: USD/EUR-pegged tokens, current and historical (a base in this set is never investable risk)
STABLECOINS: frozenset[str] = frozenset({
    "USDT", "USDC", "BUSD", "TUSD", "FDUSD", "DAI", "USDP", "PAX", "UST", "USTC", "USDD", "PYUSD",
    "USDE", "USDS", "GUSD", "SUSD", "FRAX", "LUSD", "USDJ", "USD1", "RLUSD", "BFUSD", "XUSD", "USDQ",
    "EURC", "EURI", "AEUR", "EURT", "EURS", "IDRT", "BIDR", "BVND",
})

#: fiat currencies that exchanges list as a base asset (EURUSDT, GBPUSDT …)
FIAT: frozenset[str] = frozenset({
    "USD", "EUR", "GBP", "AUD", "CAD", "CHF", "JPY", "TRY", "BRL", "RUB", "UAH", "NGN", "ZAR", "ARS",
    "PLN", "RON", "MXN", "COP", "CZK", "IDR", "VND",
})

#: leveraged-token names: an underlying plus UP / DOWN / BULL / BEAR (Binance, FTX) or 3L / 5S (others)
_LEVERAGED = re.compile(r"^(?P<underlying>[A-Z0-9]+?)(?:UP|DOWN|BULL|BEAR|[2-5][LS])$")
#: without a listing to check against, an underlying needs this many characters (keeps JUP, SUP …)
_MIN_UNDERLYING = 3


def is_leveraged_token(base: str, known_bases: Collection[str] | None = None) -> bool:
    """True for BTCUP, ETHDOWN, XRPBULL, EOSBEAR, BTC3L …

    With ``known_bases`` (every base asset the exchange lists) the underlying must itself be listed,
    which keeps real coins whose name merely ends in UP (JUP, SYRUP) in the pool.
    """
    match = _LEVERAGED.match(base.upper())
    if match is None:
        return False
    underlying = match["underlying"]
    if known_bases is not None:
        return underlying in {b.upper() for b in known_bases}
    return len(underlying) >= _MIN_UNDERLYING


def exclusion_reason(base: str, *, active: bool = True, known_bases: Collection[str] | None = None) -> str | None:
    """Why a pair with this base asset is left out of the pool, or None when it is eligible."""
    upper = base.upper()
    if not active:
        return "not trading"
    if upper in STABLECOINS:
        return "stablecoin base"
    if upper in FIAT:
        return "fiat base"
    if is_leveraged_token(upper, known_bases):
        return "leveraged token"
    return None
