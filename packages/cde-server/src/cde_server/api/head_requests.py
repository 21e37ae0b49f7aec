"""``HEAD`` on every ``GET`` route.

The 405 answers list ``HEAD`` in ``Allow`` for every path with a ``GET`` (RFC 9110 makes HEAD part of
GET), and load balancers probe ``HEAD /health``; FastAPI's routes answer HEAD only when declared.
This middleware runs a HEAD request as the GET it stands for and sends the same status and headers
without the body, for cde-server's routes and every plugin's alike.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
