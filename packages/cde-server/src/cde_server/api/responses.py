"""OpenAPI ``responses=`` entries for problem bodies, so every documented error has its schema."""

from __future__ import annotations

from typing import Any

from cde_server.api.problems import PROBLEM_MEDIA_TYPE, Problem

_DESCRIPTIONS = {400: "bad request", 401: "missing or invalid API key", 404: "not found", 409: "conflict",
                 413: "request too large", 422: "invalid request", 500: "internal error",
                 503: "unavailable"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": _DESCRIPTIONS.get(status, "error"),
                     "content": {PROBLEM_MEDIA_TYPE: {}}} for status in statuses}
