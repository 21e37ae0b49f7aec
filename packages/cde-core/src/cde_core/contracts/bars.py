"""Bar builders: streams of canonical trades → bars (:data:`cde_core.schemas.BARS_SCHEMA`)."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa
from pydantic import BaseModel


@runtime_checkable
class BarBuilder(Protocol):
    """Streaming bar construction with state that carries across batches.

    ``new_state(params)`` starts a stream; ``update(state, trades)`` consumes a batch of trades
    (canonical schema, in order) and returns the bars that closed in it; ``flush(state)`` returns the
    unfinished last bar (possibly empty). Any split of the same trades into batches yields the same
    bars. ``spec_id(params)`` is a stable, filesystem-safe id used as the bars lake partition.
    """

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def spec_id(self, params: BaseModel) -> str: ...

    def new_state(self, params: BaseModel) -> Any: ...

    def update(self, state: Any, trades: pa.Table) -> pa.Table: ...

    def flush(self, state: Any) -> pa.Table: ...
