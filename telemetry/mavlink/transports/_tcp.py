"""TCP links: ``tcp`` (a client that keeps one connection up) and ``tcpin`` (a server).

Each connection is a stream of chunks cut anywhere; the client's one connection is
the link itself, while every connection a server accepts is its own stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import cast

from telemetry.mavlink.endpoints import NetworkEndpoint, format_host_port
from telemetry.mavlink.transports._base import (
    MAX_WRITE_BUFFER_BYTES,
    Link,
    OnData,
    OnStreamEnd,
    _open_error,
)
from telemetry.retry_policy import jittered_waits

logger = logging.getLogger(__name__)

MAX_TCP_CLIENTS = 256
CONNECT_TIMEOUT_S = 5.0


class _StreamProtocol(asyncio.Protocol):
    """One TCP connection; its ``stream_id`` is fixed when it is made."""

    def __init__(self, link: _TcpLink) -> None:
        self._link = link
        self.stream_id = link.link_id
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_server / create_connection always hand a stream transport here
        self.transport = cast(asyncio.Transport, transport)
        self._link._connection_made(self)

    def data_received(self, data: bytes) -> None:
        link = self._link
        link._deliver(self.stream_id, data, link._clock())

    def eof_received(self) -> bool:
        return False  # close our side too: MAVLink has no half-open use

    def connection_lost(self, exc: Exception | None) -> None:
        self._link._connection_lost(self, exc)
        if not self.lost.done():
            self.lost.set_result(None)


class _TcpLink(Link):
    """Shared by the client (one connection, redialled) and the server (many)."""

    def __init__(
        self,
        endpoint: NetworkEndpoint,
        on_data: OnData,
        clock: Callable[[], float],
        on_stream_end: OnStreamEnd | None,
    ) -> None:
        super().__init__(endpoint, on_data, clock)
        self._on_stream_end = on_stream_end
        self._connections: dict[str, _StreamProtocol] = {}

    @property
    def peers(self) -> int:
        return len(self._connections)

    def _connection_made(self, conn: _StreamProtocol) -> None:
        self.counters.connections += 1
        self._connections[conn.stream_id] = conn

    def _connection_lost(self, conn: _StreamProtocol, exc: Exception | None) -> None:
        if self._connections.get(conn.stream_id) is not conn:
            return  # refused at accept: it never was a stream
        del self._connections[conn.stream_id]
        logger.info(
            "%s: connection closed%s", conn.stream_id, f" ({exc})" if exc else ""
        )
        if self._on_stream_end is not None:
            try:
                self._on_stream_end(conn.stream_id)
            except Exception:  # a handler boundary, as for on_data
                self.counters.callback_errors += 1
                logger.exception("%s: on_stream_end raised", conn.stream_id)

    def send(self, data: bytes) -> None:
        if not self._connections:
            self._send_failed("not connected")
            return
        for conn in list(self._connections.values()):
            transport = conn.transport
            if transport is None or transport.is_closing():
                self._send_failed("%s is closing", conn.stream_id)
            elif transport.get_write_buffer_size() > MAX_WRITE_BUFFER_BYTES:
                self._send_failed("%s is not reading", conn.stream_id)
            else:
                transport.write(data)
                self.counters.datagrams_out += 1
                self.counters.bytes_out += len(data)

    async def _close_connections(self) -> None:
        conns = list(self._connections.values())
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        for conn in conns:
            await conn.lost


class _TcpClientLink(_TcpLink):
    """``tcp:HOST:PORT``: keeps one connection up, redialling with backoff."""

    def __init__(
        self,
        endpoint: NetworkEndpoint,
        on_data: OnData,
        clock: Callable[[], float],
        on_stream_end: OnStreamEnd | None,
        backoff_s: tuple[float, float],
    ) -> None:
        super().__init__(endpoint, on_data, clock, on_stream_end)
        self._host_port = (endpoint.host, endpoint.port)
        self._backoff_s = backoff_s
        self._task: asyncio.Task[None] | None = None

    def _start(self) -> None:
        self._task = asyncio.create_task(self._keep_connected(), name=self.link_id)

    @property
    def local_address(self) -> tuple[str, int] | None:
        for conn in self._connections.values():
            if conn.transport is not None:
                sockname = conn.transport.get_extra_info("sockname")
                return (sockname[0], sockname[1])
        return None

    async def _keep_connected(self) -> None:
        loop = asyncio.get_running_loop()
        first_s, max_s = self._backoff_s
        # Jittered, so many gateways redialling one restarted autopilot or relay
        # do not all arrive at the same instants; a fresh series after each success.
        waits = jittered_waits(first_s, max_s)
        ever_connected = False
        while True:
            conn = _StreamProtocol(self)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await loop.create_connection(partial(_same, conn), *self._host_port)
            except (OSError, TimeoutError) as exc:
                delay_s = next(waits)
                logger.warning(
                    "%s: cannot connect (%s); retrying in %.1f s",
                    self.link_id,
                    exc or "timed out",
                    delay_s,
                )
                await asyncio.sleep(delay_s)
                continue
            except Exception:  # the task boundary: never die silently, keep trying
                logger.exception("%s: unexpected error while connecting", self.link_id)
                await asyncio.sleep(max_s)
                continue
            if ever_connected:
                self.counters.reconnects += 1
            ever_connected = True
            waits = jittered_waits(first_s, max_s)
            logger.info("%s: connected", self.link_id)
            # Shielded: cancelling this task must not cancel the future close() awaits.
            await asyncio.shield(conn.lost)
            delay_s = next(waits)
            logger.warning(
                "%s: connection lost; reconnecting in %.1f s", self.link_id, delay_s
            )
            await asyncio.sleep(delay_s)

    async def _close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_connections()


class _TcpServerLink(_TcpLink):
    """``tcpin:HOST:PORT``: accepts many clients, each its own stream."""

    def __init__(
        self,
        endpoint: NetworkEndpoint,
        on_data: OnData,
        clock: Callable[[], float],
        on_stream_end: OnStreamEnd | None,
    ) -> None:
        super().__init__(endpoint, on_data, clock, on_stream_end)
        self._server: asyncio.Server | None = None
        self._local: tuple[str, int] | None = None

    async def _open(self, endpoint: NetworkEndpoint) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _StreamProtocol(self),
                endpoint.host,
                endpoint.port,
                reuse_address=True,
            )
        except OSError as exc:
            raise _open_error(endpoint, exc) from exc
        host, port = self._server.sockets[0].getsockname()[:2]
        self._local = (host, port)
        if endpoint.port == 0:
            self.link_id = NetworkEndpoint("tcpin", endpoint.host, port).spec
        logger.info("%s: listening on %s", self.link_id, format_host_port(host, port))

    @property
    def local_address(self) -> tuple[str, int] | None:
        return self._local

    def _connection_made(self, conn: _StreamProtocol) -> None:
        transport = cast(asyncio.Transport, conn.transport)
        peer = transport.get_extra_info("peername")
        conn.stream_id = f"{self.link_id}#{format_host_port(peer[0], peer[1])}"
        if self.allowed is not None and not self.allowed.allows(peer[0]):
            self._refuse_sender(peer[0])
            transport.close()
            return
        if len(self._connections) >= MAX_TCP_CLIENTS:
            logger.warning(
                "%s: refused, already %d clients", conn.stream_id, MAX_TCP_CLIENTS
            )
            transport.close()
            return
        logger.info("%s: client connected", conn.stream_id)
        super()._connection_made(conn)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._close_connections()
        if self._server is not None:
            await self._server.wait_closed()


def _same(conn: _StreamProtocol) -> _StreamProtocol:
    return conn
