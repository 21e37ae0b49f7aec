"""Bar builders: streams of canonical trades → bars (:data:`cde_core.schemas.BARS_SCHEMA`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    import pyarrow as pa


@runtime_checkable
class BarBuilder(Protocol):
    """Streaming bar construction with state that carries across batches.

    ``new_state(params)`` starts a stream (``params``: the builder's ``Params`` model or a dict it
    validates); ``update(state, trades)`` consumes a batch of trades (canonical schema, a
    ``pa.Table`` or ``pa.RecordBatch``, in time order within and across batches) and returns the bars
    that closed in it; ``flush(state)`` returns the unfinished last bar (possibly empty) and starts
    the next bar afresh. Any split of the same trades into batches yields the same bars; the trade
    that makes a bar's running measure reach its threshold belongs to that bar. Output follows
    :data:`cde_core.schemas.BARS_SCHEMA` (extra columns after the canonical ones). ``spec_id(params)``
    is a stable, filesystem-safe id used as the bars lake partition (``bars/spec=<id>/…``).

    A state that is a ``cde_bars.state.BarState``-like object (``copy()``, ``to_json()``) lets lake
    aggregation resume mid-range; any other state still works, rebuilding from the start.
    """

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def spec_id(self, params: BaseModel) -> str: ...

    def new_state(self, params: BaseModel) -> Any: ...

    def update(self, state: Any, trades: pa.Table) -> pa.Table: ...

    def flush(self, state: Any) -> pa.Table: ...
