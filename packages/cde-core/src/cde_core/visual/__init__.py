"""Shared pieces of cde's HTML charts (backtest tear sheet, factor analysis, bar charts).

Every stage draws with plotly, but a page is only useful if it is small and opens anywhere, so the
stages share: one plotly.js asset per lake or server instead of 4.6 MB inlined in every file
(:mod:`~cde_core.visual.plotly_asset`), one page layout that turns figures into ``Plotly.newPlot``
calls (:mod:`~cde_core.visual.page`), and one check of names that become lake paths
(:mod:`~cde_core.visual.names`). plotly and FastAPI are imported lazily: cde-core depends on neither.
"""
