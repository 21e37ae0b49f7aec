"""One exception hierarchy for every cde package.

A `CdeError` carries the three things a user needs to act on a failure: what went wrong, where
(a file, a URL, a config key, a plugin), and what to do next. The CLI prints `str(error)` as one
line; the API turns it into a JSON problem body with `http_status`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


class CdeError(Exception):
    """Base of every error cde raises on purpose."""

    http_status: int = 400
    title: str = "cde error"

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [self.what]
        if self.where:
            parts[0] = f"{self.what} ({self.where})"
        if self.hint:
            parts.append(self.hint)
        return ": ".join(parts) if len(parts) == 1 else f"{parts[0]} — {parts[1]}"

    def problem(self) -> dict[str, object]:
        """RFC 9457 problem body."""
        body: dict[str, object] = {"type": "about:blank", "title": self.title, "status": self.http_status,
                                   "detail": self.what}
        if self.where:
            body["instance"] = self.where
        if self.hint:
            body["hint"] = self.hint
        return body


class ConfigError(CdeError):
    """A configuration value is missing, malformed or out of range."""

    title = "configuration error"


class PluginError(CdeError):
    """A plugin failed to load, registered something invalid, or clashes with another plugin."""

    title = "plugin error"
    http_status = 500


class DataError(CdeError):
    """Input data does not match what cde expects (schema, ordering, content)."""

    title = "data error"
    http_status = 422


class SchemaError(DataError):
    """A table does not satisfy a canonical Arrow schema."""

    title = "schema error"


class ChecksumError(DataError):
    """A downloaded file's sha256 does not match the published checksum."""

    title = "checksum mismatch"
    http_status = 502


class NotFoundError(CdeError):
    """A named thing (plugin, run, symbol, partition, task) does not exist."""

    title = "not found"
    http_status = 404


class RemoteError(CdeError):
    """A remote service failed or kept failing after retries."""

    title = "remote error"
    http_status = 502


class CancelledError(CdeError):
    """The work was cancelled by the user."""

    title = "cancelled"
    http_status = 409


class WorkerLostError(CdeError):
    """A worker process died while running jobs (killed by the system, out of memory): not the job's own
    error, and not the user's; finished partitions are kept, so a re-run resumes."""

    title = "worker lost"
    http_status = 500


def first_validation_problem(exc: ValidationError, *, root: str = "") -> tuple[str, str]:
    """(dotted location, message) of the first error pydantic reports, for a one-line user error;
    ``root`` names the location when the error is about the whole input."""
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or root, first["msg"]


def checked_params(model: type[BaseModel], params: BaseModel | dict[str, Any], *, name: str, owner: str,
                   where: str) -> BaseModel:
    """``params`` validated by a component's ``Params`` ``model``, or a one-line :class:`ConfigError`
    naming the parameter, the problem and (for a misspelt name) the nearest valid names: ``bad
    parameter 'x' for <owner>: …`` at ``where``, hinting ``parameters of <name>: …``.

    The one check every component's free-form parameter map (bar builders, exchange adapters) goes
    through wherever it comes from — a CLI flag, a request body at submit, a task re-run — so a bad key
    is refused before any work, never a raw pydantic dump inside a task."""
    from difflib import get_close_matches

    from pydantic import BaseModel, ValidationError

    data = params.model_dump() if isinstance(params, BaseModel) else params
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        unknown = [".".join(map(str, e["loc"])) for e in exc.errors() if e["type"] == "extra_forbidden"]
        key, message = (unknown[0], "unknown parameter") if unknown else \
            first_validation_problem(exc, root="params")
        fields = list(model.model_fields)
        near = get_close_matches(key, fields, n=3, cutoff=0.5) if unknown else []
        hint = (f"did you mean {' or '.join(near)}? " if near else "") + \
            f"parameters of {name}: {', '.join(fields) or '(none)'}"
        raise ConfigError(f"bad parameter '{key}' for {owner}: {message}", where=where, hint=hint) from None
