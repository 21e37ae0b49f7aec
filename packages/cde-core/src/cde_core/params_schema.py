"""The JSON schema of a request field that takes a registered component's parameters.

A request names a component (a strategy, an engine, a bar builder, an exchange) and carries its
parameters as a map, which the route validates against the component's ``Params`` model and refuses
with a 4xx on an unknown key. The OpenAPI schema must say the same, or clients and fuzzers
(schemathesis) are promised that any key is fine: :func:`params_of` makes the map one of the
registered components' ``Params`` schemas, each closed (``additionalProperties: false``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its local ``#/$defs/`` references replaced by their definitions (the OpenAPI
    document keeps a field's schema without the model's $defs)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


def params_of(kind: str) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` of a params map: one of the ``Params`` schemas of the registered ``kind``.
    Computed when the schema is built, so third-party components are in it."""

    def extra(schema: dict[str, Any]) -> None:
        from cde_core.plugins import get_plugins

        choices = []
        for entry in get_plugins().registry(kind).entries():
            params = getattr(entry.obj, "Params", None)
            if params is None:
                continue
            raw = params.model_json_schema()
            choices.append(_inline_refs(raw, raw.get("$defs", {})))
        if choices:
            schema.pop("additionalProperties", None)
            schema["anyOf"] = choices

    return extra
