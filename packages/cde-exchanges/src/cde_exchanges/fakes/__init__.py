"""Fakes for tests, benchmarks and the offline demo: the loopback archive server, the archive writer
and maker, synthetic trades and funding, and the market simulator.
"""

from __future__ import annotations
