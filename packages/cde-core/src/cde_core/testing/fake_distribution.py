"""Fake installed distributions for testing plugin discovery (cde's own tests and plugin authors').

``install_fake_distribution`` writes a one-module distribution into a folder exactly as an installer
lays it out (the module plus a ``.dist-info`` with ``METADATA`` and an entry point in the ``cde``
group), so entry-point discovery, broken imports and name clashes can be tested without building
wheels. Put the folder on ``sys.path`` (or ``PYTHONPATH`` for a subprocess) to "install" it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from cde_core.plugins import ENTRY_POINT_GROUP


def install_fake_distribution(site: Path, dist: str, module: str, source: str, entry_name: str,
                              version: str = "0.0.1", target: str | None = None) -> Path:
    """Write ``module.py`` (``source``) and its ``.dist-info`` into ``site``; returns ``site``. The entry
    point names ``module`` unless ``target`` (``package.module[:attr]``) says otherwise."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_name} = {target or module}\n")
    return site
