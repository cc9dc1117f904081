"""Bounds on what a client may send: database ids, request body size.

``DbId`` / ``DbIdQuery`` are the types of every path and query parameter that names
a row: an integer outside 1..2**31-1 cannot be a row id on PostgreSQL (INTEGER
columns), and handed to the driver it overflows (a 500); refused here it is a 422
that names the parameter.

``BodySizeLimit`` is ASGI middleware that counts a request body as it streams in and
answers 413 with a JSON message once it passes the cap, before any route parses it.
A ``Content-Length`` above the cap is refused before a byte is read.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Path, Query
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DB_ID = 2**31 - 1
"""The largest id our tables hold: their ``id`` columns are PostgreSQL INTEGERs
(SQLite's would take 2**63-1, but one bound for both keeps the API the same)."""

DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
"""A row id in the path: 1..2**31-1, else 422."""

DbIdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_ID)]
"""An optional row id in the query string: 1..2**31-1, else 422."""

Offset = Annotated[int, Query(ge=0, le=MAX_DB_ID)]
"""How many rows a list skips: 0..2**31-1, else 422 (the driver would overflow)."""

MAX_PAGE = 1000
"""The most rows one list request returns; page on with ``offset``."""

PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
"""How many rows a list returns: 1..``MAX_PAGE``, else 422."""

MAX_WS_MESSAGE_BYTES = 4096
"""The largest websocket message a client may send: /ws/live takes only ``ping``
and ``resync``. uvicorn enforces it (``ws_max_size``) and the route checks again."""

DEFAULT_MAX_BODY_BYTES = 1_000_000
"""1 MB: a booking, a closure of 1,000 vertices or a form is far below it."""


class BodyTooLarge(HTTPException):
    """The request body passed the cap while it was read (a 413).

    An ``HTTPException`` so that FastAPI's body reader passes it on as it is (it
    turns other errors into a 400) and the app's handlers answer it.
    """

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(413, _too_large(size, max_bytes))


class BodySizeLimit:
    """ASGI middleware: refuse HTTP request bodies over ``max_bytes`` with 413.

    The body is counted chunk by chunk as the app reads it, so a client that lies
    in (or omits) ``Content-Length`` is stopped at the cap, not after the upload.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, declared)
            return
        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(received, self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if response_started:  # too late for a status; drop the connection
                raise
            await self._refuse(send, received)

    async def _refuse(self, send: Send, size: int) -> None:
        body = orjson.dumps({"detail": _too_large(size, self.max_bytes)})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"request body too large: {size} bytes or more; the limit is {max_bytes} bytes"
    )
