"""MAVLink transports: thin asyncio adapters that move bytes, and nothing else.

An endpoint is written as ``udpin:HOST:PORT`` (listen, as ground stations do on
14550), ``udpout:HOST:PORT`` (one fixed peer), ``tcp:HOST:PORT`` (client, as to a
SITL's 5760; it redials with backoff), ``tcpin:HOST:PORT`` (server, many clients) or
``serial:DEVICE:BAUD``; IPv6 hosts go in brackets (``udpin:[::]:14550``).
:func:`parse_endpoint` turns that text into an :data:`Endpoint` (pure), and
:func:`open_link` opens it on the running loop and returns a :class:`Link`.

Every byte read is handed to ``on_data(stream_id, data, now_s)`` synchronously, on
the loop, with ``now_s`` from the injected clock (UTC epoch seconds). Nothing here
parses MAVLink or blocks the loop: sockets and the serial fd are non-blocking, and a
send that cannot go out (UDP socket buffer full, a TCP peer or serial device not
draining past 1 MiB) is dropped and counted, never waited for.

Streams and links: UDP delivers whole datagrams, so one ``on_data`` call is one
datagram and ``stream_id`` is the link id. TCP and serial deliver chunks cut
anywhere, so a MAVLink parser must keep its partial-frame state per *stream*: for a
``tcp`` or ``serial`` link the stream is the link itself (reset after each reconnect,
announced through ``on_stream_end``); for ``tcpin`` every accepted connection is its
own stream, ``"tcpin:0.0.0.0:5760#127.0.0.1:53412"``. Vehicles, however, should be
keyed by :func:`link_key` of the stream id (the part before ``#``) plus the system
id, so a drone that reconnects from a new source port stays the same vehicle instead
of turning into a new, unbooked one while its old self goes ``link_lost``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import logging
import os
import platform
import socket
import struct
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeAlias, cast

from telemetry.mavlink.endpoints import (
    VALID_FORMS,
    Endpoint,
    EndpointError,
    NetworkEndpoint,
    NetworkKind,
    SerialEndpoint,
    format_host_port,
    link_key,
    parse_endpoint,
)

__all__ = [
    "VALID_FORMS",
    "Endpoint",
    "EndpointError",
    "Link",
    "LinkCounters",
    "LinkOpenError",
    "NetworkEndpoint",
    "NetworkKind",
    "OnData",
    "OnStreamEnd",
    "SerialEndpoint",
    "format_host_port",
    "link_key",
    "open_link",
    "parse_endpoint",
]

logger = logging.getLogger(__name__)

OnData: TypeAlias = Callable[[str, bytes, float], None]
"""``on_data(stream_id, data, now_s)``; must be quick: it runs on the event loop."""
OnBacklog = Callable[[str, float], None]
"""``on_backlog(link_id, now_s)``: a UDP read left datagrams waiting."""
OnStreamEnd: TypeAlias = Callable[[str], None]
"""``on_stream_end(stream_id)``: drop any partial-frame state kept for that stream."""

PEER_TTL_S = 10.0
"""A udpin link sends to every peer heard from within this many seconds."""
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024
"""Asked-for UDP receive buffer: a burst from 1,000 drones must wait, not be lost."""
MAX_WRITE_BUFFER_BYTES = 1024 * 1024
"""Past this many unsent bytes to one peer, further sends are dropped and counted."""
MAX_TCP_CLIENTS = 256
CONNECT_TIMEOUT_S = 5.0
RESOLVE_TIMEOUT_S = 10.0
_MAX_PEERS = 4096
_GRANTED_IN_FULL = RECEIVE_BUFFER_BYTES * (2 if sys.platform == "linux" else 1)
_RMEM_HINT = f"; sysctl net.core.rmem_max={RECEIVE_BUFFER_BYTES} absorbs longer bursts"
_READ_CHUNK_BYTES = 65536
_MAX_DATAGRAM_BYTES = 65535
_DATAGRAMS_PER_WAKEUP = 512
_WAKEUP_BUDGET_S = 0.002
BEHIND_AFTER_S = 0.5
"""A datagram that waited this long in the kernel means the reader is behind."""
_SO_TIMESTAMP: int | None = getattr(
    socket, "SO_TIMESTAMP", 29 if sys.platform == "linux" else None
)
"""Python leaves the constant out on some builds; 29 is Linux's (asm-generic)."""
_TIMEVAL = struct.Struct("@ll")
_TIMESTAMP_CMSG_BYTES = socket.CMSG_SPACE(_TIMEVAL.size)
"""Bounds one wakeup's work, counting the gateway's decoding in ``on_data``
(~40 us a datagram), so ticks and websocket senders still run."""
_ASM_GENERIC_MACHINES = frozenset({"x86_64", "aarch64", "riscv64"})


class LinkOpenError(OSError):
    """An endpoint that parsed but could not be opened (port in use, no device...)."""


@dataclass(slots=True)
class LinkCounters:
    """Traffic through one link since it opened (``datagrams`` = reads for streams)."""

    datagrams_in: int = 0
    bytes_in: int = 0
    datagrams_out: int = 0
    bytes_out: int = 0
    send_errors: int = 0
    """Sends dropped: no peer or connection, peer not reading, or an OS error."""
    callback_errors: int = 0
    """``on_data`` raised; the link logged it and kept reading."""
    reconnects: int = 0
    """Connections re-established (tcp) or device reopened (serial) after a loss."""
    connections: int = 0
    """Connections accepted (tcpin) or established (tcp) in total."""
    backlogged_wakeups: int = 0
    """UDP: reads whose first datagram had waited ``BEHIND_AFTER_S`` or more in
    the kernel: the reader is behind, and what overflows the receive buffer is
    dropped by the kernel."""


def _open_error(endpoint: Endpoint, exc: OSError) -> LinkOpenError:
    reason = exc.strerror or str(exc)
    return LinkOpenError(
        exc.errno or errno.EIO, f"cannot open {endpoint.spec}: {reason}"
    )


class _RateLimitedLog:
    """Logs one message per interval and says how many it held back (floods)."""

    def __init__(self, interval_s: float = 10.0) -> None:
        self._interval_s = interval_s
        self._next_s = 0.0
        self._held = 0

    def __call__(
        self, level: int, msg: str, *args: object, exc_info: bool = False
    ) -> None:
        now_s = time.monotonic()
        if now_s < self._next_s:
            self._held += 1
            return
        if self._held:
            msg += f" ({self._held} similar messages suppressed)"
        self._next_s = now_s + self._interval_s
        self._held = 0
        logger.log(level, msg, *args, exc_info=exc_info)


class Link(abc.ABC):
    """One open endpoint. Create with :func:`open_link`; close with ``await close()``.

    ``link_id`` is the endpoint's canonical text, with the real port when 0 was asked
    for. ``send`` never blocks and never raises: failures are counted.
    """

    def __init__(
        self, endpoint: Endpoint, on_data: OnData, clock: Callable[[], float]
    ) -> None:
        self.endpoint = endpoint
        self.link_id = endpoint.spec
        self.counters = LinkCounters()
        self._on_data = on_data
        self._clock = clock
        self._closed = False
        self._log_callback_error = _RateLimitedLog()
        self._log_send_error = _RateLimitedLog()
        self.receive_buffer_bytes: int | None = None
        """UDP only: the socket's receive buffer as the kernel reports it."""
        self.on_backlog: OnBacklog | None = None
        """UDP only: called ``(link_id, now_s)`` when a read stops with datagrams
        still waiting, i.e. the reader is behind and the kernel may drop some."""

    @property
    @abc.abstractmethod
    def local_address(self) -> tuple[str, int] | None:
        """The bound (host, port); None for serial, or a tcp client not connected."""

    @property
    @abc.abstractmethod
    def peers(self) -> int:
        """Peers that ``send`` currently reaches (addresses or open connections)."""

    @abc.abstractmethod
    def send(self, data: bytes) -> None:
        """Queue ``data`` to the peer(s) without waiting; failures are counted."""

    @abc.abstractmethod
    async def _close(self) -> None: ...

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Close; return once the sockets, fd and tasks are gone. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._close()
        logger.info("%s: closed", self.link_id)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _deliver(self, stream_id: str, data: bytes, now_s: float) -> None:
        counters = self.counters
        counters.datagrams_in += 1
        counters.bytes_in += len(data)
        try:
            self._on_data(stream_id, data, now_s)
        except Exception:  # a handler boundary: the link must keep reading
            counters.callback_errors += 1
            self._log_callback_error(
                logging.ERROR,
                "%s: on_data raised; reading on",
                stream_id,
                exc_info=True,
            )

    def _send_failed(self, reason: str, *args: object) -> None:
        self.counters.send_errors += 1
        self._log_send_error(
            logging.WARNING, f"%s: send dropped: {reason}", self.link_id, *args
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.link_id} closed={self._closed}>"


# --- UDP ------------------------------------------------------------------------------


class _UdpLink(Link):
    """udpin (``_peers`` tracks who to answer) or udpout (a connected socket).

    Reads through ``loop.add_reader`` and drains up to ``_DATAGRAMS_PER_WAKEUP``
    datagrams per wakeup: the default loop's datagram transport reads one per loop
    iteration and, measured here, lost 70 % of a 200k-datagram burst that this
    drain takes whole (on uvloop both keep up; the drain costs the same).
    """

    def __init__(
        self, endpoint: NetworkEndpoint, on_data: OnData, clock: Callable[[], float]
    ) -> None:
        super().__init__(endpoint, on_data, clock)
        self._peers: dict[Any, float] | None = {} if endpoint.kind == "udpin" else None
        self._sock: socket.socket | None = None
        self._stamped = False
        """Arrivals are stamped by the kernel (SO_TIMESTAMP): lag is measurable."""
        self._local: tuple[str, int] | None = None
        self._loop = asyncio.get_running_loop()

    async def _open(self, endpoint: NetworkEndpoint) -> None:
        listen = endpoint.kind == "udpin"
        family, address = await _resolve(endpoint, socket.SOCK_DGRAM, passive=listen)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            rcvbuf_bytes = _enlarge_receive_buffer(sock)
            if _SO_TIMESTAMP is not None:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMP, 1)
                self._stamped = True
            if listen:
                sock.bind(address)
            else:
                sock.connect(address)  # UDP connect: no handshake, only filters peers
            self._loop.add_reader(sock.fileno(), self._read_ready)
        except OSError as exc:
            sock.close()
            raise _open_error(endpoint, exc) from exc
        self._sock = sock
        self.receive_buffer_bytes = rcvbuf_bytes
        host, port = sock.getsockname()[:2]
        self._local = (host, port)
        if listen and endpoint.port == 0:
            self.link_id = NetworkEndpoint("udpin", endpoint.host, port).spec
        logger.info(
            "%s: open (bound to %s, receive buffer %d bytes%s)",
            self.link_id,
            format_host_port(host, port),
            rcvbuf_bytes,
            "" if rcvbuf_bytes >= _GRANTED_IN_FULL else _RMEM_HINT,
        )

    def _read_ready(self) -> None:
        sock = self._sock
        if sock is None:
            return
        recvfrom = sock.recvfrom
        peers = self._peers
        # One clock read per wakeup: these datagrams all waited in the kernel
        # together, so they share a receive time.
        now_s = self._clock()
        deadline = time.perf_counter() + _WAKEUP_BUDGET_S
        for n in range(_DATAGRAMS_PER_WAKEUP):
            if n & 31 == 31 and time.perf_counter() > deadline:
                return  # the rest waits in the kernel for the next wakeup
            try:
                if n == 0 and self._stamped:
                    data, addr = self._recv_first(sock, now_s)
                else:
                    data, addr = recvfrom(_MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # An ICMP error for an earlier send (port unreachable) surfaces here.
                self._send_failed("%s", exc)
                continue
            if peers is not None:
                peers[addr] = now_s
                if len(peers) > _MAX_PEERS:
                    peers = self._forget_peers(now_s)
            self._deliver(self.link_id, data, now_s)

    def _recv_first(self, sock: socket.socket, now_s: float) -> tuple[bytes, Any]:
        """Read a wakeup's first datagram with its kernel arrival time: how long it
        waited tells whether this reader is behind (cheaper than asking every one)."""
        data, ancillary, _flags, addr = sock.recvmsg(
            _MAX_DATAGRAM_BYTES, _TIMESTAMP_CMSG_BYTES
        )
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMP:
                sec, usec = _TIMEVAL.unpack_from(payload)
                # The kernel stamps with the real-time clock, whatever ``clock`` is.
                waited_s = time.time() - (sec + usec / 1e6)
                if waited_s >= BEHIND_AFTER_S:
                    self.counters.backlogged_wakeups += 1
                    if self.on_backlog is not None:
                        self.on_backlog(self.link_id, now_s)
        return data, addr

    @property
    def local_address(self) -> tuple[str, int] | None:
        return self._local

    @property
    def peers(self) -> int:
        if self._peers is None:
            return 1
        cutoff_s = self._clock() - PEER_TTL_S
        return sum(1 for seen_s in self._peers.values() if seen_s >= cutoff_s)

    def _forget_peers(self, now_s: float) -> dict[Any, float]:
        cutoff_s = now_s - PEER_TTL_S
        peers = self._peers or {}
        fresh = {addr: seen for addr, seen in peers.items() if seen >= cutoff_s}
        if len(fresh) > _MAX_PEERS:  # a flood from many sources: keep the most recent
            newest = sorted(fresh.items(), key=lambda item: item[1])[-_MAX_PEERS // 2 :]
            fresh = dict(newest)
        self._peers = fresh
        return fresh

    def send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            self._send_failed("link is closed")
            return
        if self._peers is None:
            targets: list[Any] = [None]  # connected: send() without an address
        else:
            cutoff_s = self._clock() - PEER_TTL_S
            targets = [a for a, seen_s in self._peers.items() if seen_s >= cutoff_s]
            if not targets:
                self._send_failed("no peer heard from in the last %.0f s", PEER_TTL_S)
                return
        for addr in targets:
            try:
                if addr is None:
                    sock.send(data)
                else:
                    sock.sendto(data, addr)
            except BlockingIOError:
                # The socket's send buffer is full; UDP may drop, so do we (counted)
                # rather than queue without bound.
                self._send_failed("socket send buffer full")
                continue
            except OSError as exc:
                self._send_failed("%s", exc)
                continue
            self.counters.datagrams_out += 1
            self.counters.bytes_out += len(data)

    async def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            self._loop.remove_reader(sock.fileno())
            sock.close()


def _enlarge_receive_buffer(sock: socket.socket) -> int:
    """Ask for an 8 MiB receive buffer; return the size the kernel reports.

    Linux reports twice the usable size (it counts its bookkeeping too).
    """
    force = _so_rcvbufforce()
    if force is not None:
        # Privileged processes may exceed net.core.rmem_max; others get EPERM and
        # fall back to the capped SO_RCVBUF below.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, force, RECEIVE_BUFFER_BYTES)
            return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def _so_rcvbufforce() -> int | None:
    known: int | None = getattr(socket, "SO_RCVBUFFORCE", None)
    if known is not None:
        return known
    # Python does not export it; 33 is its value in Linux's asm-generic/socket.h,
    # which these architectures use (alpha, mips, parisc, sparc differ).
    if sys.platform == "linux" and platform.machine() in _ASM_GENERIC_MACHINES:
        return 33
    return None


async def _resolve(
    endpoint: NetworkEndpoint, sock_type: int, *, passive: bool
) -> tuple[int, Any]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await loop.getaddrinfo(
                endpoint.host,
                endpoint.port,
                type=sock_type,
                flags=socket.AI_PASSIVE if passive else 0,
            )
    except (OSError, TimeoutError) as exc:
        raise LinkOpenError(
            errno.EHOSTUNREACH,
            f"{endpoint.spec}: cannot resolve {endpoint.host!r}: {exc}",
        ) from exc
    family, _, _, _, address = infos[0]
    return int(family), address


def _same(conn: _StreamProtocol) -> _StreamProtocol:
    return conn


# --- TCP ------------------------------------------------------------------------------


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
        initial_s, max_s = self._backoff_s
        delay_s = initial_s
        ever_connected = False
        while True:
            conn = _StreamProtocol(self)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await loop.create_connection(partial(_same, conn), *self._host_port)
            except (OSError, TimeoutError) as exc:
                logger.warning(
                    "%s: cannot connect (%s); retrying in %.1f s",
                    self.link_id,
                    exc or "timed out",
                    delay_s,
                )
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, max_s)
                continue
            except Exception:  # the task boundary: never die silently, keep trying
                logger.exception("%s: unexpected error while connecting", self.link_id)
                await asyncio.sleep(max_s)
                continue
            if ever_connected:
                self.counters.reconnects += 1
            ever_connected = True
            delay_s = initial_s
            logger.info("%s: connected", self.link_id)
            # Shielded: cancelling this task must not cancel the future close() awaits.
            await asyncio.shield(conn.lost)
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


# --- serial ---------------------------------------------------------------------------


class _SerialLink(Link):
    """``serial:DEVICE:BAUD``: a raw, non-blocking tty read through ``add_reader``."""

    def __init__(
        self,
        endpoint: SerialEndpoint,
        on_data: OnData,
        clock: Callable[[], float],
        on_stream_end: OnStreamEnd | None,
        backoff_s: tuple[float, float],
    ) -> None:
        super().__init__(endpoint, on_data, clock)
        self._serial = endpoint
        self._on_stream_end = on_stream_end
        self._backoff_s = backoff_s
        self._fd: int | None = None
        self._out = bytearray()
        self._reopen_task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    @property
    def local_address(self) -> tuple[str, int] | None:
        return None

    @property
    def peers(self) -> int:
        return 0 if self._fd is None else 1

    def _open_device(self) -> None:
        # O_NONBLOCK also keeps open() itself from waiting for modem carrier.
        fd = os.open(self._serial.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            _set_raw(fd, self._serial.baud)
        except (OSError, termios.error) as exc:
            os.close(fd)
            raise OSError(
                errno.ENOTTY, "not a serial device (termios refused it)"
            ) from exc
        self._fd = fd
        self._loop.add_reader(fd, self._read_ready)
        logger.info("%s: open", self.link_id)

    def _read_ready(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, _READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EIO: unplugged, or the pty's other side closed
            self._device_lost(exc)
            return
        if not data:
            self._device_lost(None)
            return
        self._deliver(self.link_id, data, self._clock())

    def _write_ready(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            written = os.write(fd, self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._device_lost(exc)
            return
        del self._out[:written]
        if not self._out:
            self._loop.remove_writer(fd)

    def send(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            self._send_failed("device is not open")
            return
        if len(self._out) + len(data) > MAX_WRITE_BUFFER_BYTES:
            self._send_failed("device is not draining")
            return
        self.counters.datagrams_out += 1
        self.counters.bytes_out += len(data)
        if self._out:
            self._out += data
            return
        try:
            written = os.write(fd, data)
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError as exc:
            self._device_lost(exc)
            return
        if written < len(data):
            self._out += data[written:]
            self._loop.add_writer(fd, self._write_ready)

    def _release_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        self._loop.remove_reader(fd)
        self._loop.remove_writer(fd)
        self._out.clear()
        os.close(fd)

    def _device_lost(self, exc: OSError | None) -> None:
        self._release_fd()
        logger.warning(
            "%s: device lost (%s); reopening", self.link_id, exc or "hang-up"
        )
        if self._on_stream_end is not None:
            try:
                self._on_stream_end(self.link_id)
            except Exception:  # a handler boundary, as for on_data
                self.counters.callback_errors += 1
                logger.exception("%s: on_stream_end raised", self.link_id)
        reopening = self._reopen_task is not None and not self._reopen_task.done()
        if not self._closed and not reopening:
            self._reopen_task = asyncio.create_task(self._reopen(), name=self.link_id)

    async def _reopen(self) -> None:
        initial_s, max_s = self._backoff_s
        delay_s = initial_s
        while True:
            await asyncio.sleep(delay_s)
            try:
                self._open_device()
            except OSError as exc:
                delay_s = min(delay_s * 2, max_s)
                logger.warning(
                    "%s: cannot reopen (%s); retrying in %.1f s",
                    self.link_id,
                    exc,
                    delay_s,
                )
                continue
            self.counters.reconnects += 1
            return

    async def _close(self) -> None:
        if self._reopen_task is not None:
            self._reopen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopen_task
        self._release_fd()


def _set_raw(fd: int, baud: int) -> None:
    """Raw 8N1, no flow control, no echo or line editing, at ``baud``."""
    speed = getattr(termios, f"B{baud}")
    iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(fd)
    iflag &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
        | termios.IXOFF
        | termios.IXANY
        | termios.INPCK
    )
    oflag &= ~termios.OPOST
    lflag &= ~(
        termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN
    )
    cflag &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | termios.CRTSCTS)
    cflag |= termios.CS8 | termios.CREAD | termios.CLOCAL
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    termios.tcsetattr(
        fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc]
    )


# --- opening --------------------------------------------------------------------------


async def open_link(
    endpoint: Endpoint,
    on_data: OnData,
    *,
    clock: Callable[[], float] = time.time,
    on_stream_end: OnStreamEnd | None = None,
    backoff_s: tuple[float, float] = (0.5, 10.0),
) -> Link:
    """Open ``endpoint`` on the running loop and return its :class:`Link`.

    ``on_data(stream_id, data, now_s)`` is called synchronously on the loop for every
    datagram or chunk read (see the module docstring for what a stream is); it must
    be quick, and if it raises the error is counted and logged, and reading goes on.
    ``on_stream_end(stream_id)`` is called when a TCP connection or serial device
    goes away. ``clock`` gives ``now_s`` (UTC epoch seconds). ``backoff_s`` is the
    (first, longest) wait between redials of a ``tcp`` client or serial reopens.

    Listeners, ``udpout`` and serial raise :class:`LinkOpenError` (an ``OSError``)
    when they cannot be opened (port in use, no such device); a ``tcp`` client
    returns at once and keeps dialling in the background, logging each failure,
    because the autopilot it talks to may simply not be up yet. Works on the default
    asyncio loop and on uvloop alike; choosing the loop is the caller's business.
    """
    if isinstance(endpoint, SerialEndpoint):
        serial = _SerialLink(endpoint, on_data, clock, on_stream_end, backoff_s)
        try:
            serial._open_device()
        except OSError as exc:
            raise _open_error(endpoint, exc) from exc
        return serial
    if endpoint.kind in ("udpin", "udpout"):
        udp = _UdpLink(endpoint, on_data, clock)
        await udp._open(endpoint)
        return udp
    if endpoint.kind == "tcpin":
        server = _TcpServerLink(endpoint, on_data, clock, on_stream_end)
        await server._open(endpoint)
        return server
    client = _TcpClientLink(endpoint, on_data, clock, on_stream_end, backoff_s)
    client._start()
    return client
