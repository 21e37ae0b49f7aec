"""The plugin module named by the entry point: it only registers objects through the hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cde_core import hookimpl
from cde_example_plugin.low_range_strategy import LowRangeStrategy
from cde_example_plugin.range_factor import RangePositionFactor


@hookimpl
def register_factors(register: Callable[[Any], None]) -> None:
    register(RangePositionFactor())


@hookimpl
def register_strategies(register: Callable[[Any], None]) -> None:
    register(LowRangeStrategy())
