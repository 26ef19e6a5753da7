"""Plain ASGI middleware of ``lstmkit serve``: one log line per request, and the body size limit.

Both are raw ASGI callables (no Starlette ``BaseHTTPMiddleware``): the limit has to see the body
as it streams in, before FastAPI reads it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["BodyLimit", "RequestLog"]

log = logging.getLogger("lstmkit.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# An oversize body is read and thrown away (up to this much) before the 413 goes out: a client
# that sends its whole body before reading the answer (curl, httpx, requests) then gets the 413
# rather than a connection reset. Past this the server answers and closes the connection.
_DRAIN_BYTES = 64 * 1024 * 1024


async def send_json(send: Send, status: int, body: dict, headers: list | None = None) -> None:
    """A complete JSON response through the raw ASGI ``send``."""
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class RequestLog:
    """Logs ``METHOD /path STATUS 1.2 ms`` at INFO once per HTTP request (uvicorn's own access
    log is off); a request the app failed on logs as 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            ms = (time.perf_counter() - t0) * 1000
            # the path as sent (still %-encoded): a %0A in it cannot start a fake log line
            path = scope.get("raw_path") or scope["path"].encode()
            log.info("%s %s %d %.1f ms", scope["method"], path.decode("latin-1"), status, ms)


class BodyLimit:
    """Answers 413 with a JSON ``detail`` when a request body is over ``max_bytes``: at once when
    its Content-Length says so, else when the bytes streamed so far (chunked bodies) pass it.

    A body within the limit is read here in full and handed on to the app as one message.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive integer, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        mb = self.max_bytes / 2**20
        return (
            f"request body is larger than this server's limit of {mb:g} MB "
            f"({self.max_bytes} bytes); send fewer inputs per request, or start the server "
            "with a larger --max-body-mb"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            # With "Expect: 100-continue" the client waits for a go-ahead before sending the
            # body: answer now and it never sends it. Otherwise drain what it is sending.
            waits = headers.get(b"expect", b"").lower() == b"100-continue"
            if not waits and int(declared) <= _DRAIN_BYTES:
                await _drain(receive, _DRAIN_BYTES)
            await send_json(send, 413, {"detail": self._detail()})
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away mid-body: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                if message.get("more_body", False):
                    await _drain(receive, _DRAIN_BYTES - size)
                await send_json(send, 413, {"detail": self._detail()})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as usual

        await self.app(scope, replay, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop body chunks until the body ends, the client leaves or ``budget`` runs out."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return
