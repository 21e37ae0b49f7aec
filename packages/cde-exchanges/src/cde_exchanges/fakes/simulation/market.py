"""Public entry point: the trades of one symbol-day, independent of every other day."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from cde_core.errors import NotFoundError
from cde_exchanges.fakes.simulation.intraday import fill_trades
from cde_exchanges.fakes.simulation.latent import latent_market
from cde_exchanges.fakes.simulation.seeding import Stream, rng
from cde_exchanges.fakes.simulation.spec import MarketSpec


def simulate_day(spec: MarketSpec, symbol: str, day: date) -> pa.Table:
    """Trades of ``symbol`` on ``day`` in the canonical TRADES_SCHEMA.

    Deterministic in (spec, symbol, day): days can be generated in any order or in parallel and give
    identical tables. Trade ids continue across days (the first id of a day is the previous day's last
    id + 1) and the day opens at the previous day's latent close. Raises NotFoundError for a day the
    symbol does not trade (outside the period, before its listing or from its delisting on).
    """
    market = latent_market(spec)
    column, row = market.column(symbol), market.row(day)
    if not spec.is_trading(symbol, day):
        raise NotFoundError(f"{symbol} does not trade on {day} in the simulated market",
                            hint="see MarketSpec.trading_days(symbol)")
    n = int(market.n_trades[row, column])
    return fill_trades(
        spec, rng(spec.seed, Stream.INTRADAY, symbol, day), day=day, n=n,
        first_trade_id=int(market.first_trade_id[row, column]),
        open_price=float(market.open[row, column]), close_price=float(market.close[row, column]),
        daily_vol=float(market.daily_vol[row, column]),
        mean_notional=float(market.quote_volume[row, column]) / n, base_price=spec.base_price(symbol))
