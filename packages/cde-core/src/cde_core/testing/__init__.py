"""The plugin-author kit: prove a plugin keeps its contract, and fake installed distributions.

* :func:`check_factor`, :func:`check_bar_builder`, :func:`check_strategy` — protocol, determinism,
  declared output, no look-ahead / chunk invariance, on small synthetic data (or yours). They raise
  :class:`ContractViolation` (an ``AssertionError``) with the rule and the place, so a plugin's
  test is one line: ``check_factor(MyFactor())``.
* :func:`synthetic_trades`, :func:`synthetic_bars`, :func:`synthetic_panel` — the data they use;
  :func:`write_bars_lake` writes synthetic bars into a lake for end-to-end tests.
* :func:`install_fake_distribution` — a one-module distribution with a ``cde`` entry point in a
  folder, to test discovery, broken plugins and name clashes without building wheels.
"""

from cde_core.testing.bar_checks import check_bar_builder
from cde_core.testing.checks_common import ContractViolation
from cde_core.testing.factor_checks import check_factor
from cde_core.testing.fake_distribution import install_fake_distribution
from cde_core.testing.strategy_checks import check_strategy
from cde_core.testing.synthetic import synthetic_bars, synthetic_panel, synthetic_trades, write_bars_lake

__all__ = ["ContractViolation", "check_bar_builder", "check_factor", "check_strategy", "install_fake_distribution",
           "synthetic_bars", "synthetic_panel", "synthetic_trades", "write_bars_lake"]
