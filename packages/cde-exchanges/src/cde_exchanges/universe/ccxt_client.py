"""ccxt exchanges pointed at the configured REST base URL (the real one, or a local recorded server).

ccxt keeps its endpoints in ``exchange.urls['api']``; replacing the production host there is the
supported way to aim it elsewhere (its own sandbox switch does the same). ccxt is imported here,
lazily, because importing it takes about a second and the plugin module loads on every ``cde`` run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cde_core.config import DownloadConfig
from cde_core.errors import NotFoundError

if TYPE_CHECKING:
    import ccxt

#: exchange → (ccxt class name, production REST host that ccxt has built in, config field)
LIVE_EXCHANGES: dict[str, tuple[str, str, str]] = {
    "binance": ("binance", "https://api.binance.com", "binance_api_url"),
    "okx": ("okx", "https://www.okx.com", "okx_api_url"),
}
LIVE_MARKETS: tuple[str, ...] = ("spot",)


def create_exchange(name: str, config: DownloadConfig) -> ccxt.Exchange:
    """A ccxt exchange whose spot REST calls go to the configured base URL, public endpoints only."""
    import ccxt

    if name not in LIVE_EXCHANGES:
        raise NotFoundError(f"no live asset pool for exchange '{name}'", where="cde universe top",
                            hint=f"choose one of {', '.join(LIVE_EXCHANGES)}")
    class_name, production_host, url_field = LIVE_EXCHANGES[name]
    base_url = str(getattr(config, url_field)).rstrip("/")
    # two public calls per ranking: ccxt's client-side throttle (which sleeps by endpoint weight)
    # would only add seconds
    exchange: ccxt.Exchange = getattr(ccxt, class_name)({"timeout": int(config.timeout_s * 1000),
                                                        "enableRateLimit": False})
    api: dict[str, Any] = exchange.urls["api"]
    if name == "okx":
        api["rest"] = base_url  # ccxt builds every OKX URL from this one template
    else:
        for key, url in api.items():
            if isinstance(url, str) and url.startswith(production_host):
                api[key] = base_url + url.removeprefix(production_host)
    exchange.options["fetchMarkets"] = {**exchange.options.get("fetchMarkets", {}), "types": ["spot"]}
    return exchange
