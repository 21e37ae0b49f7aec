"""Every name a request can carry into a lake path goes through cde_core's one guard (issue 19, item 1).

The test walks every operation of the real app with every installed plugin — path and query
parameters and JSON bodies, nested lists and maps included — and looks at every string it accepts.
Each one is either guarded (``cde_core.lake_paths.LakeName``: ``SAFE_VALUE_PATTERN`` and the length
cap in the schema), a date / enum, or listed in :data:`NOT_A_PATH` with the reason it never becomes
a path. A new field that is none of these fails here until its author decides which it is. Guarded
body fields are then fed ``../…`` through the very model FastAPI validates with, so a pattern that
only decorates the schema would fail too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from cde_core.config import CdeConfig
from cde_core.lake_paths import MAX_NAME_LENGTH, SAFE_VALUE_PATTERN
from cde_server.api.app import create_app

#: string fields that never become a path, and why (keys: "<Model or operation>.<field path>")
NOT_A_PATH = {
    "GET /components/{kind}/{name} path:name": "looked up in the plugin registry, never on disk",
    "ComputeRequest.factors[]": "factor names or globs matched against the registry",
    "AnalyzeRequest.columns[]": "column names or globs matched against the features' columns",
    "GET /visual/features/analysis query:columns[]": "column names or globs matched against the features' columns",
    "GET /visual/features/analysis/data query:columns[]": "column names or globs matched against the features' "
                                                          "columns",
    "GET /visual/assets/{name} path:name": "compared with the one plotly bundle name, never joined to a path",
    "FactorSpec.factor": "factor name, looked up in the registry",
    "AggregateRequest.bar": "bar builder name, looked up in the registry (the spec id is derived)",
    "AggregateRequest.params.interval": "time bars' interval, refused by the builder's Params unless it is "
                                        "<number><s|m|h|d> (the spec id is derived from it)",
    "BacktestRequest.strategy": "strategy name, looked up in the registry",
    "BacktestRequest.name": "label of the run id; own pattern without '.', capped at 64 characters",
    "BacktestRequest.params.factor": "a strategy's feature column, looked up among the loaded columns",
    "BacktestRequest.params.signal": "a strategy's signal generator name, looked up in the registry",
    "BacktestRequest.engine.funding_column": "an engine's panel column name, looked up among the columns",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    app = create_app(CdeConfig(data_root=tmp_path_factory.mktemp("lake")))
    yield app
    app.state.tasks.close(wait_s=0)


def _strings(node: dict[str, Any], where: str, components: dict[str, Any],
             seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, schema) of every string the schema ``node`` accepts."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _strings(components[name], name, components, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            yield from _strings(sub, where, components, seen)
    kind = node.get("type")
    if kind == "string":
        yield where, node
    elif kind == "array" and "items" in node:
        yield from _strings(node["items"], f"{where}[]", components, seen)
    for name, sub in node.get("properties", {}).items():
        yield from _strings(sub, f"{where}.{name}", components, seen)
    if isinstance(node.get("additionalProperties"), dict):
        yield from _strings(node["additionalProperties"], f"{where}{{}}", components, seen)


def _every_string(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    schema = app.openapi()
    components = schema.get("components", {}).get("schemas", {})
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                found += list(_strings(parameter["schema"], where, components))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "schema" in body:
                found += list(_strings(body["schema"], f"{method.upper()} {path} body", components))
    return found


def _guarded(node: dict[str, Any]) -> bool:
    return node.get("pattern") == SAFE_VALUE_PATTERN and node.get("maxLength", 10**9) <= MAX_NAME_LENGTH


def test_every_string_a_route_accepts_is_guarded_or_declared_not_a_path(app: FastAPI) -> None:
    strings = _every_string(app)
    assert any(where.startswith("AnalyzeRequest.features") for where, _ in strings)  # the walk reaches bodies
    unguarded = sorted({where for where, node in strings
                        if not (_guarded(node) or "enum" in node or node.get("format") in ("date", "date-time")
                                or where in NOT_A_PATH)})
    assert unguarded == [], (f"{unguarded}: strings that may become paths without the lake guard "
                             "(use cde_core.lake.LakeName)")
    stale = set(NOT_A_PATH) - {where for where, _ in strings}
    assert not stale, f"NOT_A_PATH names fields no route has any more: {stale}"


def _nested(tokens: list[str], value: str) -> Any:
    """A JSON value putting ``value`` at the walk location ``tokens`` ("[]" a list item, "{}" a map value)."""
    if not tokens:
        return value
    head, rest = tokens[0], tokens[1:]
    if head == "[]":
        return [_nested(rest, value)]
    if head == "{}":
        return {"2024-01-01": _nested(rest, value)}
    return {head: _nested(rest, value)}


def _split(where: str) -> list[str]:
    tokens: list[str] = []
    for part in where.split("."):
        name = part.replace("[]", "").replace("{}", "")
        tokens.append(name)
        rest = part[len(name):]
        while rest:
            tokens.append(rest[:2])
            rest = rest[2:]
    return tokens


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as router references)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def _body_models(app: FastAPI) -> dict[str, Any]:
    models = {}
    for route in _api_routes(app.routes):
        for param in route.dependant.body_params:
            annotation = param.field_info.annotation
            models[getattr(annotation, "__name__", str(annotation))] = annotation
    return models


@pytest.mark.parametrize("evil", ["../../../etc", "a/../../b", "default__time-1h/../../x", "x" * 201, ".hidden"])
def test_every_guarded_body_field_refuses_names_that_leave_the_lake(app: FastAPI, evil: str) -> None:
    models = _body_models(app)
    checked = 0
    for where, node in _every_string(app):
        model_name = where.split(".", 1)[0]
        if not _guarded(node) or model_name not in models:
            continue
        tokens = _split(where)[1:]
        try:
            TypeAdapter(models[model_name]).validate_python(_nested(tokens, evil))
        except ValidationError as exc:
            locations = [[str(p) for p in error["loc"]] for error in exc.errors()]
            field = [t for t in tokens if t not in ("[]", "{}")]
            assert any(loc[:1] == field[:1] and error_is_ours(exc, loc) for loc in locations), (where, locations)
            checked += 1
        else:
            pytest.fail(f"{where} accepted {evil!r}")
    assert checked >= 10


def error_is_ours(exc: ValidationError, loc: list[str]) -> bool:
    return any([str(p) for p in e["loc"]] == loc and e["type"] in ("string_pattern_mismatch", "string_too_long")
               for e in exc.errors())


def test_analyze_refuses_a_features_spec_that_climbs_out_of_the_lake(app: FastAPI, tmp_path: Path) -> None:
    """The reported case: a features name with ``..`` read Parquet files outside the lake."""
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        answer = client.post("/features/analyze",
                             json={"bars": "time-1h", "features": "default__time-1h/../../../../" + str(tmp_path)})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "features"]


def test_reading_features_builds_its_path_through_the_guard(tmp_path: Path) -> None:
    """The CLI and notebooks reach ``read_features`` without the request model: the lake refuses too."""
    from cde_core.errors import DataError
    from cde_core.lake import Lake
    from cde_features.lake_io import read_features

    outside = tmp_path / "outside" / "exchange=binance" / "market=spot"
    outside.mkdir(parents=True)
    lake = Lake(tmp_path / "lake")
    with pytest.raises(DataError, match="invalid feature set"):
        read_features(lake, "../outside", "binance", "spot")
