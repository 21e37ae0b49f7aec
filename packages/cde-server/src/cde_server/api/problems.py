"""Every error leaves the API as an RFC 9457 problem body (``application/problem+json``).

CdeError subclasses carry their own status and body (``CdeError.problem()``); request validation
errors become 422 with the failing locations; Starlette's own errors (unknown path, wrong method)
keep their status and headers; anything unexpected is a 500 that names no internals — the
traceback goes to the log, not to the client.
"""

from __future__ import annotations

import re
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cde_core.errors import CdeError
from cde_core.lake_paths import lake_relative

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="where in the request: path, query, header or body, then the field")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="problem type URI")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(description="HTTP status code")
    detail: str | None = Field(None, description="what went wrong, for a human")
    instance: str | None = Field(None, description="where: the thing the problem is about")
    hint: str | None = Field(None, description="what to do next")
    errors: list[ValidationIssue] | None = Field(None, description="request validation failures (422 only)")


def problem_response(status: int, title: str, detail: str | None = None, *,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def _cde_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CdeError)
    from cde_core.object_store import store_outage

    exc = store_outage(exc) or exc  # a stage's "unreadable partition" while the store is down: a 502
    if exc.http_status >= 500:
        logger.opt(exception=exc).error("{} {} failed", request.method, request.url.path)
    body = exc.problem()
    lake = getattr(request.app.state, "lake", None)
    if lake is not None:  # the client learns lake-relative paths, never where the lake is on the server
        body = {k: lake_relative(v, lake.root) if isinstance(v, str) else v for k, v in body.items()}
    return JSONResponse(body, status_code=exc.http_status, media_type=PROBLEM_MEDIA_TYPE)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # the offending input is not echoed back: it may be large or hold secrets
    issues = [{"loc": [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())],
               "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))} for err in exc.errors()]
    first = issues[0] if issues else None
    if first is not None and first["loc"] == ["body"] and not _json_media_type(request):
        # FastAPI reads a body as JSON only when it says so: `curl -d '{…}'` (form-encoded) or
        # text/plain would otherwise read "Input should be a valid dictionary", naming nothing
        declared = request.headers.get("content-type")
        return problem_response(415, "unsupported media type",
                                f"the request body must be JSON, not {declared or 'sent without a Content-Type'}",
                                hint="send it with Content-Type: application/json")
    raw = exc.errors()[0] if exc.errors() else {}
    if raw.get("type") == "json_invalid":  # say what is wrong and where, not "body.13: JSON decode error"
        reason = str((raw.get("ctx") or {}).get("error") or "not JSON")
        return problem_response(422, "invalid request", f"the body is not valid JSON: {reason} at character "
                                f"{raw['loc'][-1]}", errors=issues, hint="check the JSON syntax near there")
    detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else "invalid request"
    return problem_response(422, "invalid request", detail, errors=issues)


def _json_media_type(request: Request) -> bool:
    """True when the request declares a JSON body (``application/json``, ``…+json``), or sends none."""
    declared = request.headers.get("content-type")
    if declared is None:
        return request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers
    media = declared.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def allowed_methods(request: Request) -> str | None:
    """Every documented method of the request's path, from the OpenAPI document.

    Starlette's 405 names only the methods of the first route that matched the path, which is
    wrong when GET and POST on one path are separate routes (clients and schemathesis read Allow).
    """
    templates: list[tuple[re.Pattern[str], set[str]]] | None = getattr(request.app.state, "allow_index", None)
    if templates is None:
        templates = []
        for path, item in request.app.openapi().get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
            methods = {m.upper() for m in item if m in _HTTP_METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            templates.append((pattern, methods))
        request.app.state.allow_index = templates
    found = set().union(*(methods for pattern, methods in templates if pattern.match(request.url.path)))
    return ", ".join(sorted(found)) if found else None


_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {400: "bad request", 404: "not found", 405: "method not allowed"}.get(exc.status_code, "http error")
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's words
        # what reaches here is a body the JSON parser gave up on (nested thousands deep), not bad syntax
        return problem_response(400, "bad request", "the body could not be parsed: it is not JSON this server "
                                "reads (nested too deeply?)", hint="send a flat JSON object as the schema shows")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    return problem_response(exc.status_code, title, detail, headers=headers)


#: seconds a client should wait before retrying while the task store is down
STORE_RETRY_AFTER_S = 5


def store_unavailable(store_name: str, exc: BaseException) -> JSONResponse:
    """503 with the cause and a Retry-After: the answer of every route that needs the task store while
    it does not answer (health included), instead of a 500 that says nothing."""
    return problem_response(503, "task store unavailable",
                            f"the {store_name} task store does not answer ({type(exc).__name__})",
                            headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
                            hint="retry later; the operator should check server.task_store and that Redis is up")


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    tasks = getattr(request.app.state, "tasks", None)
    store = getattr(getattr(tasks, "store", None), "name", "task")
    if tasks is not None:
        tasks.outage.failed(exc, f"answering {request.method} {request.url.path}")
    return store_unavailable(store, exc)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    from cde_core.object_store import store_error

    remote = store_error(exc)  # the lake's object store failed: 502 with the cause, not a 500
    if remote is not None:
        logger.warning("object store error on {} {}: {}", request.method, request.url.path, exc)
        return await _cde_error(request, remote)
    from cde_core.lake import unreadable_parquet

    bad_file = unreadable_parquet(exc)  # a damaged or foreign file in the lake: a 422 naming it
    if bad_file is not None:
        logger.warning("unreadable lake file on {} {}: {}", request.method, request.url.path, exc)
        return await _cde_error(request, bad_file)
    logger.opt(exception=exc).error("unhandled error on {} {}", request.method, request.url.path)
    from cde_core.plugin_faults import plugin_fault

    fault = plugin_fault(exc)  # a third-party plugin's code failed: name it, not cde
    if fault is not None:
        return await _cde_error(request, fault)
    return problem_response(500, "internal error", "the server failed to handle the request; "
                            "the details are in the server log")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CdeError, _cde_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(redis.RedisError, _store_error)
    app.add_exception_handler(Exception, _unhandled)
