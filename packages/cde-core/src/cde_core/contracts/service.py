"""Stage services: what a stage offers a notebook (``from cde import Lake``) besides its commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from cde_core.lake import Lake
    from cde_core.progress import ProgressCallback


@runtime_checkable
class StageService(Protocol):
    """One service function of a stage, named ``<stage>.<verb>`` (``bars.aggregate``,
    ``features.compute``, ``backtest.run``, ``trades.import`` …).

    ``Params`` is the service's request model (the same one its CLI command and REST route build);
    ``run(request, lake, progress)`` does the work on ``lake`` and returns the service's report or
    result (a pydantic model). The notebook facade finds services by name only, so a stage can be
    replaced by any distribution that registers the same names.
    """

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def run(self, request: BaseModel, lake: Lake, progress: ProgressCallback | None = None) -> Any: ...
