"""The live asset pool through ccxt, against a local server replaying recorded real REST replies.

Real captures (read-only, /work/shared/data/real, see PROVENANCE.md): Binance ``GET /api/v3/exchangeInfo``
(BTCUSDT, ETHUSDT) and OKX ``GET /api/v5/public/instruments?instType=SPOT`` (BTC-USD … USDT-USD). No
real capture of Binance ``/api/v3/ticker/24hr`` or OKX ``/api/v5/market/tickers`` exists, so those
replies are BUILT here from the documented field lists (EXCHANGE_FORMATS.md; numbers as strings).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cde_core.config import DownloadConfig, load_config, set_config
from cde_core.errors import NotFoundError, RemoteError
from cde_exchanges.universe.live import LiveTopRequest, live_top_pairs
from cde_exchanges.universe.recorded_server import recorded_rest_server

REAL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real"
BINANCE_INFO = REAL / "nautilus_binance_spot_exchange_info.json"
OKX_INSTRUMENTS = REAL / "nautilus_okx_instruments_spot.json"
pytestmark = pytest.mark.skipif(not (BINANCE_INFO.exists() and OKX_INSTRUMENTS.exists()),
                                reason="real exchange replies not available (/work/shared/data/real)")


def binance_ticker(symbol: str, quote_volume: float) -> dict[str, Any]:
    """One element of a /api/v3/ticker/24hr reply (built: documented fields, numbers as strings)."""
    return {"symbol": symbol, "priceChange": "1.00000000", "priceChangePercent": "0.100",
            "weightedAvgPrice": "100.00000000", "prevClosePrice": "99.00000000", "lastPrice": "100.00000000",
            "lastQty": "0.10000000", "bidPrice": "99.99000000", "bidQty": "1.00000000",
            "askPrice": "100.01000000", "askQty": "1.00000000", "openPrice": "99.00000000",
            "highPrice": "101.00000000", "lowPrice": "98.00000000", "volume": f"{quote_volume / 100:.8f}",
            "quoteVolume": f"{quote_volume:.8f}", "openTime": 1634856065856, "closeTime": 1634942465856,
            "firstId": 1, "lastId": 1000, "count": 1000}


def okx_ticker(inst_id: str, quote_volume: float) -> dict[str, str]:
    """One element of a /api/v5/market/tickers reply (built: documented fields, numbers as strings)."""
    return {"instType": "SPOT", "instId": inst_id, "last": "100", "lastSz": "0.1", "askPx": "100.1",
            "askSz": "1", "bidPx": "99.9", "bidSz": "1", "open24h": "99", "high24h": "101", "low24h": "98",
            "volCcy24h": f"{quote_volume}", "vol24h": f"{quote_volume / 100}", "ts": "1747000000000",
            "sodUtc0": "99", "sodUtc8": "99"}


def real_binance_info() -> dict[str, Any]:
    return json.loads(BINANCE_INFO.read_text())


def binance_config(url: str) -> DownloadConfig:
    return DownloadConfig(binance_api_url=url, okx_api_url=url, timeout_s=5)


def test_binance_real_exchange_info_ranks_by_quote_volume() -> None:
    tickers = [binance_ticker("BTCUSDT", 1_500_000.5), binance_ticker("ETHUSDT", 2_500_000.25)]
    routes = {"/api/v3/exchangeInfo": real_binance_info(), "/api/v3/ticker/24hr": tickers}
    with recorded_rest_server(routes) as server:
        result = live_top_pairs(LiveTopRequest(exchange="binance", quote="USDT", n=20),
                                binance_config(server.url))
    assert [(p.rank, p.symbol, p.base, p.quote_volume) for p in result.pairs] == [
        (1, "ETHUSDT", "ETH", 2_500_000.25), (2, "BTCUSDT", "BTC", 1_500_000.5)]
    assert result.excluded == []
    assert [r.split("?")[0] for r in server.requests] == ["/api/v3/exchangeInfo", "/api/v3/ticker/24hr"]


def _derived_symbol(template: dict[str, Any], symbol: str, base: str, quote: str = "USDT",
                    status: str = "TRADING") -> dict[str, Any]:
    entry = copy.deepcopy(template)
    entry.update(symbol=symbol, baseAsset=base, quoteAsset=quote, status=status)
    return entry


def test_binance_exclusion_rule_and_n() -> None:
    # the real reply holds two pairs; the rule's clauses need more, so entries are DERIVED from the
    # real BTCUSDT entry with only symbol / baseAsset / quoteAsset / status changed
    info = real_binance_info()
    template = info["symbols"][0]
    info["symbols"] += [
        _derived_symbol(template, "USDCUSDT", "USDC"), _derived_symbol(template, "BTCUPUSDT", "BTCUP"),
        _derived_symbol(template, "LUNAUSDT", "LUNA", status="BREAK"),
        _derived_symbol(template, "EURUSDT", "EUR"), _derived_symbol(template, "JUPUSDT", "JUP"),
        _derived_symbol(template, "SOLUSDT", "SOL"), _derived_symbol(template, "ETHBTC", "ETH", "BTC"),
    ]
    volumes = {"USDCUSDT": 9e9, "BTCUPUSDT": 8e9, "LUNAUSDT": 7e9, "EURUSDT": 6e9, "BTCUSDT": 5e9,
               "JUPUSDT": 4e9, "ETHUSDT": 3e9, "SOLUSDT": 3e9, "ETHBTC": 99e9}
    routes = {"/api/v3/exchangeInfo": info,
              "/api/v3/ticker/24hr": [binance_ticker(s, v) for s, v in volumes.items()]}
    with recorded_rest_server(routes) as server:
        result = live_top_pairs(LiveTopRequest(exchange="binance", quote="USDT", n=3), binance_config(server.url))
        everything = live_top_pairs(LiveTopRequest(exchange="binance", quote="usdt", n=50),
                                    binance_config(server.url))
    assert [p.symbol for p in result.pairs] == ["BTCUSDT", "JUPUSDT", "ETHUSDT"]  # tie ETH/SOL by symbol
    assert [p.symbol for p in everything.pairs] == ["BTCUSDT", "JUPUSDT", "ETHUSDT", "SOLUSDT"]
    assert {(e.symbol, e.reason) for e in result.excluded} == {
        ("USDCUSDT", "stablecoin base"), ("BTCUPUSDT", "leveraged token"), ("LUNAUSDT", "not trading"),
        ("EURUSDT", "fiat base")}


def test_okx_real_instruments_with_a_stablecoin_base() -> None:
    instruments = json.loads(OKX_INSTRUMENTS.read_text())
    ids = [row["instId"] for row in instruments["data"]]
    assert "USDT-USD" in ids  # the real listing itself holds a stablecoin pair
    volumes = {inst: 1000.0 * (i + 1) for i, inst in enumerate(ids)}
    routes = {"/api/v5/public/instruments": instruments,
              "/api/v5/market/tickers": {"code": "0", "msg": "",
                                         "data": [okx_ticker(i, v) for i, v in volumes.items()]}}
    with recorded_rest_server(routes) as server:
        result = live_top_pairs(LiveTopRequest(exchange="okx", quote="USD", n=3), binance_config(server.url))
    expected = sorted((i for i in ids if i != "USDT-USD"), key=lambda i: -volumes[i])[:3]
    assert [p.symbol for p in result.pairs] == expected
    assert [p.quote_volume for p in result.pairs] == [volumes[i] for i in expected]
    assert [(e.symbol, e.reason) for e in result.excluded] == [("USDT-USD", "stablecoin base")]
    assert all("instType=SPOT" in r for r in server.requests)


def test_a_failing_server_is_a_remote_error_naming_the_url() -> None:
    with recorded_rest_server({"/api/v3/exchangeInfo": real_binance_info()}) as server, \
            pytest.raises(RemoteError) as caught:
        live_top_pairs(LiveTopRequest(exchange="binance"), binance_config(server.url))
    assert server.url in str(caught.value)


def test_unsupported_exchange_or_market_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        live_top_pairs(LiveTopRequest(exchange="kraken"), binance_config("http://127.0.0.1:9"))
    with pytest.raises(NotFoundError):
        live_top_pairs(LiveTopRequest(exchange="binance", market="um"), binance_config("http://127.0.0.1:9"))


def test_cli_top_prints_json_from_the_configured_base_url() -> None:
    import typer

    from cde_exchanges.universe.cli import register

    app = typer.Typer()
    register(app)
    tickers = [binance_ticker("BTCUSDT", 2e9), binance_ticker("ETHUSDT", 1e9)]
    with recorded_rest_server({"/api/v3/exchangeInfo": real_binance_info(),
                               "/api/v3/ticker/24hr": tickers}) as server:
        set_config(load_config(overrides={"download.binance_api_url": server.url}, use_file=False, environ={}))
        try:
            shown = CliRunner().invoke(app, ["universe", "top", "--n", "1", "--json"])
            table = CliRunner().invoke(app, ["universe", "top", "--n", "2"])
        finally:
            set_config(None)
    assert shown.exit_code == 0, shown.output
    assert [p["symbol"] for p in json.loads(shown.output)["pairs"]] == ["BTCUSDT"]
    assert table.exit_code == 0 and "ETHUSDT" in table.output
