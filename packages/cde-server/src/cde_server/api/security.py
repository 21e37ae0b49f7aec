"""Optional API keys: when ``server.api_keys`` is set, every request but the public paths needs
``X-API-Key`` with one of them (401 otherwise).

Enforced as ASGI middleware rather than a router dependency so routes that plugins add through
``register_routes`` are covered too, without their authors having to remember it — websocket routes
included (the handshake is closed with 1008 before the route runs).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from cde_core.visual.plotly_asset import SERVER_ASSET_PREFIX
from cde_server.api.problems import problem_response

API_KEY_HEADER = "X-API-Key"
#: websocket close code for a refused handshake (RFC 6455 1008: policy violation)
POLICY_VIOLATION = 1008
#: health for load balancers; the schema and docs so clients can discover the API (they hold no data)
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
#: the plotly.js bundle the /visual pages load: a browser's <script> request cannot carry an API key,
#: and the bundle is plotly's code, not data
PUBLIC_PREFIXES = (SERVER_ASSET_PREFIX,)


def is_public(path: str) -> bool:
    """True for paths answered without an API key."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: Iterable[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys if k]

    def _accepts(self, presented: bytes | None) -> bool:
        if presented is None:
            return False
        # compare against every key without short-circuit so timing says nothing about which matched
        return sum(hmac.compare_digest(presented, key) for key in self.keys) > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # no exemption for OPTIONS: a CORS preflight is answered by the CORS middleware outside this one
        # (when origins are configured), and any other OPTIONS answered 405 with the route's methods, or
        # 404, to anyone — telling which routes exist without a key
        if scope["type"] not in ("http", "websocket") or not self.keys or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        presented = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode())
        if scope["type"] == "websocket":  # a plugin's websocket route is closed by default too
            if not self._accepts(presented):
                await send({"type": "websocket.close", "code": POLICY_VIOLATION,
                            "reason": f"{'missing' if presented is None else 'invalid'} API key"})
                return
            await self.app(scope, receive, send)
            return
        if not self._accepts(presented):
            what = "missing" if presented is None else "invalid"
            response = problem_response(401, "unauthorized", f"{what} API key",
                                        hint=f"send a configured key in the {API_KEY_HEADER} header")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
