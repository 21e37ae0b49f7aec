"""cde-backtest: signals, strategies, engines, metrics and reports for Crypto Data Engine."""
