"""The OpenAPI document, completed: problem bodies on every error response, the API-key scheme.

FastAPI documents its own 422 shape (``HTTPValidationError``) and knows nothing of the middleware's
401/413/400 answers; clients and schemathesis check responses against this document, so it must
describe what the server really sends — for plugin routes too.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cde_server.api.problems import PROBLEM_MEDIA_TYPE, Problem, ValidationIssue
from cde_server.api.security import API_KEY_HEADER, is_public

#: what any operation may answer: the middleware's 400/401/413, validation's 422, a NotFoundError
#: from a registry or lake lookup (404), the catch-all 500, and 503 (with Retry-After) while the task
#: store does not answer
_COMMON = {400: "bad path (traversal attempt)", 401: "missing or invalid API key", 404: "not found",
           413: "request too large", 422: "invalid request", 500: "internal error",
           503: "task store unavailable (Retry-After says when to try again)"}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def install_openapi(app: FastAPI, *, api_keys: bool) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, api_keys=api_keys)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI, *, api_keys: bool) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                         tags=app.openapi_tags)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update({name: sub for name, sub in schemas["Problem"].pop("$defs", {}).items()})
    schemas.setdefault("ValidationIssue", ValidationIssue.model_json_schema())
    if api_keys:
        components["securitySchemes"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                continue
            responses = operation.setdefault("responses", {})
            common = dict(_COMMON)
            if is_public(path) or not api_keys:
                common.pop(401)
            if api_keys and not is_public(path):
                operation["security"] = [{"ApiKey": []}]
            if "requestBody" in operation:
                common[415] = "the request body is not JSON (send Content-Type: application/json)"
            for status, description in common.items():
                responses.setdefault(str(status), {"description": description})
            for status, response in responses.items():
                if status[:1] in {"4", "5"}:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema
