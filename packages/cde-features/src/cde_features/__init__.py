"""cde-features: factor library, unified feature calculator and factor analysis."""
