"""Request body size limit (``server.max_request_bytes`` → 413).

A declared ``Content-Length`` over the limit is refused before the body is read; a chunked body is
counted as it streams and refused as soon as it passes the limit, so no request can make the
server buffer more than the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cde_server.api.problems import problem_response


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> object:
        return problem_response(413, "request too large", f"request bodies are limited to {self.max_bytes} bytes",
                                hint="send less data per request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False  # the server rejects a malformed length itself
            if too_big:
                await self._too_large()(scope, receive, send)  # type: ignore[operator]
                return
        received = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # answer 413 ourselves and tell the app the client left: raising here would be
                    # turned into a 400 by FastAPI's body parsing
                    if not started:
                        refused = True
                        await self._too_large()(scope, receive, send)  # type: ignore[operator]
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is already sent; whatever the app answers now is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
