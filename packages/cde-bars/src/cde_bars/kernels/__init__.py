"""Numba kernels (``@njit(cache=True, nogil=True)``): one pass over a batch of trades, no per-trade Python.

Import these modules lazily (inside ``update`` or commands): compiling or loading the cache costs
time that a plain ``cde --help`` should not pay.
"""
