"""Refuse requests whose path tries to climb out of where it points (``..``), at any encoding.

Routes that read or write the lake validate their names themselves (:func:`cde_core.lake.safe_value`,
``Lake.run_dir``); this guard is the second fence in front of every route, plugin routes included:
a path segment that is ``..`` or ``.``, holds a NUL or a backslash — after decoding once, twice or
three times (``%2e%2e``, ``%252e%252e``, ``..%2f``) — is answered 400 before any route runs.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from cde_server.api.problems import problem_response


def _decodings(raw: str, rounds: int = 3) -> list[str]:
    seen = [raw]
    for _ in range(rounds):
        decoded = unquote(seen[-1])
        if decoded == seen[-1]:
            break
        seen.append(decoded)
    return seen


def is_traversal(raw_path: str) -> bool:
    """True if any decoding of the path has a ``..``/``.`` segment, a backslash or a NUL."""
    for text in _decodings(raw_path):
        if "\x00" in text or "\\" in text:
            return True
        if any(segment in ("..", ".") for segment in text.split("/")):
            return True
    return False


class PathTraversalGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
            query = scope.get("query_string", b"").decode("latin-1")
            if is_traversal(raw) or is_traversal(scope["path"]) or any(
                    ".." in value.split("/") for value in _query_values(query)):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": "bad path"})
                    return
                response = problem_response(400, "bad path", "path segments may not be '.', '..', "
                                            "or contain backslashes or NUL, in any encoding")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _query_values(query: str) -> list[str]:
    values: list[str] = []
    for pair in query.split("&"):
        for text in _decodings(pair.replace("+", " ")):
            values.extend(text.replace("\\", "/").split("="))
    return values
