"""A lean HTTP/1.1 keep-alive client on asyncio streams, for load generation.

General clients (httpx) spend more CPU per request than a one-worker uvicorn server
does on a trivial route, so on a small machine they, not the server, set the rate a
benchmark sees. This client does only what a benchmark needs: one persistent
connection per simulated client, request bodies with ``Content-Length``, responses
read as status line, headers and a ``Content-Length`` or chunked body.

Not a general client: no TLS, redirects, proxies, compression or pipelining; a
response that asks to close the connection closes it and the next request opens a
new one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_HEADER_BYTES = 64 * 1024
"""A response head larger than this is refused as malformed."""
MAX_IDLE_S = 4.0
"""A connection idle for longer is reopened before use: uvicorn closes kept-alive
connections after 5 s, and one closed just as a request goes out loses it."""


class HttpLoadError(Exception):
    """The server's response could not be read as HTTP/1.1."""


@dataclass(frozen=True)
class HttpResponse:
    """One response: status code, headers (names lower-cased) and body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body decoded as JSON."""
        return json.loads(self.body)


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpLoadError(f"bad status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpLoadError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class HttpConnection:
    """One keep-alive connection to ``host:port``; requests go one at a time."""

    def __init__(
        self, host: str, port: int, default_headers: Mapping[str, str] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.default_headers = dict(default_headers or {})
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._idle_since = 0.0

    async def _connect(
        self,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """Return the reader, the writer and whether the connection was reused."""
        idle_s = time.monotonic() - self._idle_since
        if self._reader is not None and (self._reader.at_eof() or idle_s > MAX_IDLE_S):
            # The server closed the idle connection, or is about to: a request sent
            # on it would be lost, so open a fresh one.
            await self.close()
        if self._reader is not None and self._writer is not None:
            return self._reader, self._writer, True
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=MAX_HEADER_BYTES
        )
        return self._reader, self._writer, False

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request and return its response (callers add a timeout).

        Raises ``HttpLoadError`` when the connection fails or the response is
        malformed. A kept-alive connection that the server closed before reading
        the request is reopened and the request sent once more, as HTTP clients
        commonly do (it was never read, so it was never acted on).
        """
        fields = {**self.default_headers, **(headers or {})}
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in fields.items()]
        if body or method in {"POST", "PUT", "PATCH"}:
            head.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        attempt, reused = 1, False
        while True:
            try:
                reader, writer, reused = await self._connect()
                writer.write(message)
                response = await self._read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                await self.close()
                nothing_back = not isinstance(exc, asyncio.IncompleteReadError) or (
                    not exc.partial
                )
                if reused and nothing_back and attempt == 1:
                    attempt += 1
                    continue
                raise HttpLoadError(
                    f"{method} {path}: connection failed: {exc!r}"
                ) from exc
            except (OSError, asyncio.LimitOverrunError) as exc:
                await self.close()
                raise HttpLoadError(f"{method} {path}: {exc!r}") from exc
            except HttpLoadError:
                await self.close()
                raise
            if response.headers.get("connection", "").lower() == "close":
                await self.close()
            self._idle_since = time.monotonic()
            return response

    async def _read_response(self, reader: asyncio.StreamReader) -> HttpResponse:
        status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return HttpResponse(status, headers, await self._read_chunked(reader))
        length = headers.get("content-length")
        if length is None:
            # No length and not chunked: the body runs to the end of the connection.
            body = await reader.read()
            await self.close()
            return HttpResponse(status, headers, body)
        if not length.isdigit():
            raise HttpLoadError(f"bad Content-Length {length!r}")
        return HttpResponse(status, headers, await reader.readexactly(int(length)))

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as exc:
                raise HttpLoadError(f"bad chunk size {size_line!r}") from exc
            if size == 0:
                # Skip trailers up to the blank line that ends the message.
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        """Close the socket; the next request reconnects."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


def json_body(payload: Any) -> tuple[bytes, dict[str, str]]:
    """Return ``payload`` as a JSON body and its Content-Type header."""
    return json.dumps(payload).encode(), {"Content-Type": "application/json"}
