"""The carried state of a bar stream: two small numpy arrays plus a ring of daily totals.

Kept as plain arrays (slots in :mod:`cde_bars.kernels.layout`) so the Numba kernels read and write it
without Python objects, so it pickles to executor workers, and so it serialises exactly (floats as
hex) into a bars partition's provenance for resuming a run. The stream's output buffers
(:class:`~cde_bars.bar_output.BarOutput`) hang off it too, but are no part of what it carries: a copy,
a pickle or the JSON form starts without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from cde_bars.kernels.layout import F_HIGH, F_LOW, I_DAY, I_SIGN, N_FLOAT, N_INT

if TYPE_CHECKING:
    from cde_bars.bar_output import BarOutput


@dataclass
class BarState:
    """Open bar, last trade, EWMA expectations and dynamic-threshold history of one stream."""

    params: BaseModel
    floats: np.ndarray = field(default_factory=lambda: np.zeros(N_FLOAT))
    ints: np.ndarray = field(default_factory=lambda: np.zeros(N_INT, dtype=np.int64))
    ring: np.ndarray = field(default_factory=lambda: np.zeros(1))
    started: bool = False
    output: BarOutput | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fresh(cls, params: BaseModel, *, ring_days: int = 1) -> BarState:
        state = cls(params=params, ring=np.zeros(max(ring_days, 1)))
        state.floats[F_HIGH] = -np.inf
        state.floats[F_LOW] = np.inf
        state.ints[I_DAY] = -1
        state.ints[I_SIGN] = 1
        return state

    def copy(self) -> BarState:
        return BarState(self.params, self.floats.copy(), self.ints.copy(), self.ring.copy(), self.started)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "output": None}  # scratch buffers and bars already handed out

    def to_json(self) -> dict[str, Any]:
        """Exact JSON form (floats as hex strings, so inf and every bit survive)."""
        return {"floats": [float(x).hex() for x in self.floats], "ints": [int(x) for x in self.ints],
                "ring": [float(x).hex() for x in self.ring], "started": self.started}

    @classmethod
    def from_json(cls, params: BaseModel, data: dict[str, Any]) -> BarState:
        return cls(params=params,
                   floats=np.array([float.fromhex(x) for x in data["floats"]]),
                   ints=np.array(data["ints"], dtype=np.int64),
                   ring=np.array([float.fromhex(x) for x in data["ring"]]),
                   started=bool(data["started"]))
