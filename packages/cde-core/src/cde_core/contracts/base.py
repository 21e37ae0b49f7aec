"""What every registered object has in common."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel


@runtime_checkable
class Component(Protocol):
    """A registered plugin object: a unique name within its kind, a one-line summary, and a
    pydantic model of its parameters (an empty model when it takes none).

    The ``Params`` model is the single source of truth for validation, CLI help and the REST API's
    JSON schema, so every parameter must have a type, a default or be required, and a description.
    """

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]


class NoParams(BaseModel):
    """Parameters of a component that takes none."""

    model_config = {"extra": "forbid"}
