"""Built-in strategies, registered by :mod:`cde_backtest.plugin`."""
