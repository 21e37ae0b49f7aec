"""The builders this package registers, and lookup by name without the plugin host (notebooks)."""

from __future__ import annotations

from cde_bars.builders.base import KernelBarBuilder
from cde_bars.builders.information import ALL_INFORMATION_BUILDERS
from cde_bars.builders.threshold import DollarBarBuilder, TickBarBuilder, VolumeBarBuilder
from cde_bars.builders.time import TimeBarBuilder
from cde_core.errors import NotFoundError

BUILDER_TYPES: tuple[type[KernelBarBuilder], ...] = (
    TimeBarBuilder, TickBarBuilder, VolumeBarBuilder, DollarBarBuilder, *ALL_INFORMATION_BUILDERS)


def all_builders() -> list[KernelBarBuilder]:
    return [builder_type() for builder_type in BUILDER_TYPES]


def builder_by_name(name: str) -> KernelBarBuilder:
    """This package's builder called ``name`` (the plugin registry may hold third-party ones too)."""
    for builder_type in BUILDER_TYPES:
        if builder_type.name == name:
            return builder_type()
    raise NotFoundError(f"no bar builder named '{name}'",
                        hint=f"available: {', '.join(t.name for t in BUILDER_TYPES)}")
