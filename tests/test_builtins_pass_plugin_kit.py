"""Every built-in factor and bar builder passes the same plugin-author kit a third party uses
(`cde_core.testing`): the built-ins prove the kit is fair, and the kit proves the built-ins."""

from __future__ import annotations

from typing import Any

import pytest

from cde_core.plugins import PluginHost
from cde_core.testing import check_bar_builder, check_factor

HOST = PluginHost()
FACTORS = [e for e in HOST.factors if e.builtin]
BUILDERS = [e for e in HOST.bar_builders if e.builtin]
#: parameters for builders without defaults, sized to make tens to hundreds of bars from 5000 trades
REQUIRED_PARAMS: dict[str, dict[str, Any]] = {"dollar": {"threshold": 20_000.0}, "tick": {"threshold": 250},
                                              "volume": {"threshold": 200.0}}


def test_the_builtins_are_all_here() -> None:
    assert len(FACTORS) >= 90 and len(BUILDERS) >= 10


@pytest.mark.parametrize("entry", FACTORS, ids=[e.name for e in FACTORS])
def test_builtin_factor_passes_check_factor(entry: Any) -> None:
    check_factor(entry.obj)


@pytest.mark.parametrize("entry", BUILDERS, ids=[e.name for e in BUILDERS])
def test_builtin_bar_builder_passes_check_bar_builder(entry: Any) -> None:
    check_bar_builder(entry.obj, REQUIRED_PARAMS.get(entry.name))
