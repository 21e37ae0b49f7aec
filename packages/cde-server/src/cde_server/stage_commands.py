"""Which distribution brings which stage command, so a minimal install says what to install.

The shell imports no stage package; this table is only the install hint for the commands cde's own
stage distributions add (``pip install cde-core cde-server cde-bars`` has no ``cde features``).
"""

from __future__ import annotations

import importlib.metadata as md

from cde_core.errors import PluginError

STAGE_COMMANDS: dict[str, str] = {
    "download": "cde-exchanges", "lake": "cde-exchanges", "exchanges": "cde-exchanges",
    "universe": "cde-exchanges", "aggregate": "cde-bars", "bars": "cde-bars", "features": "cde-features",
    "backtest": "cde-backtest",
}


def _installed(distribution: str) -> bool:
    try:
        md.distribution(distribution)
    except md.PackageNotFoundError:
        return False
    return True


def missing_stage_error(command: str) -> PluginError | None:
    """The error for ``cde <command>`` when its stage distribution is absent (or not loaded)."""
    distribution = STAGE_COMMANDS.get(command)
    if distribution is None:
        return None
    if not _installed(distribution):
        return PluginError(f"`cde {command}` comes with {distribution}, which is not installed",
                           hint=f"pip install {distribution}")
    return PluginError(f"`cde {command}` comes with {distribution}, which is installed but not loaded",
                       hint="check CDE_LOAD_PLUGINS / CDE_DISABLE_PLUGINS and `cde plugins`")


def require_commands(commands: list[str], available: list[str], *, by: str) -> None:
    """Raise one error naming every distribution ``by`` (e.g. ``cde demo``) needs and lacks."""
    missing = [c for c in dict.fromkeys(commands) if c not in available]
    if not missing:
        return
    dists = sorted({STAGE_COMMANDS.get(c, "?") for c in missing})
    absent = [d for d in dists if not _installed(d)]
    hint = f"pip install {' '.join(absent)}" if absent else "check CDE_LOAD_PLUGINS / CDE_DISABLE_PLUGINS"
    raise PluginError(f"{by} needs `cde {'`, `cde '.join(missing)}` from {', '.join(dists)}", hint=hint)
