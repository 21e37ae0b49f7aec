"""Factor analysis in the spirit of alphalens: IC / rank IC against forward returns, IC decay,
quantile mean forward returns, turnover and rank autocorrelation."""
