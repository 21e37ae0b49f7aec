"""Stable, filesystem-safe bar spec ids: the ``spec=`` partition of the bars lake."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel


def number_label(value: float) -> str:
    """1e7 → ``10000000``, 0.5 → ``0.5``, 2.5e-05 → ``2.5e-05`` (no ``+``: lake values stay safe)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value)).replace("+", "")


def params_digest(params: BaseModel) -> str:
    """Short hash of every parameter, so two specs that differ anywhere get different ids."""
    canonical = json.dumps(params.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]
