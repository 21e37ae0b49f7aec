"""Built-in signal generators (factor, rule, ensemble), registered by :mod:`cde_backtest.plugin`."""
