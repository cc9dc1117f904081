"""The simulator's sockets: ``udpout:``, ``tcp:`` (client) and ``tcpin:`` (server).

Thin asyncio adapters. ``send(frame)`` never blocks: a frame that cannot go now
(no TCP peer yet, a peer too slow to drain its buffer) is dropped and counted, as a
radio would lose it. Bytes that come back are handed to ``on_bytes(data, peer)``,
where ``peer`` names the connection (each TCP connection is its own byte stream).

- ``udpout:HOST:PORT`` sends each frame as one datagram to HOST:PORT from an
  ephemeral port, and takes replies from anyone (a ground station answers from the
  port it listens on).
- ``tcp:HOST:PORT`` connects to a server (a gateway's ``tcpin``), redialling while it
  is away after jittered waits of at most ``RECONNECT_S`` (tenacity's full jitter), so
  a fleet of simulated drones does not redial a restarted gateway all at once.
- ``tcpin:HOST:PORT`` listens, like a SITL's port 5760; every connected client gets
  every frame. Port 0 picks a free port (``bound_port`` says which).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_random_exponential,
)

from simulator.errors import EndpointError

logger = logging.getLogger(__name__)

RECONNECT_S = 1.0
"""The longest wait between redials of a ``tcp:`` link."""
_FIRST_REDIAL_S = 0.25
CONNECT_TIMEOUT_S = 3.0
MAX_BUFFERED_BYTES = 1 << 20
"""A TCP peer with more than this waiting is too slow: frames are dropped."""
READ_SIZE = 65536

OnBytes = Callable[[bytes, str], None]
SCHEMES = ("udpout", "tcp", "tcpin")


@dataclass(frozen=True)
class Endpoint:
    """A parsed ``SCHEME:HOST:PORT``."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}:{host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """Parse ``udpout:HOST:PORT``, ``tcp:HOST:PORT`` or ``tcpin:HOST:PORT``.

    IPv6 hosts go in brackets (``tcpin:[::1]:5760``). EndpointError says what is
    wrong.
    """
    scheme, sep, rest = text.strip().partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise EndpointError(
            f"endpoint {text!r}: must start with one of "
            f"{', '.join(s + ':' for s in SCHEMES)} (e.g. udpout:127.0.0.1:14550)"
        )
    if rest.startswith("["):
        host, bracket, port_text = rest[1:].partition("]")
        if not bracket or not port_text.startswith(":"):
            raise EndpointError(f"endpoint {text!r}: write IPv6 as [ADDRESS]:PORT")
        port_text = port_text[1:]
    else:
        host, sep, port_text = rest.rpartition(":")
        if not sep:
            raise EndpointError(f"endpoint {text!r}: missing :PORT")
    if not host:
        raise EndpointError(f"endpoint {text!r}: missing host")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise EndpointError(f"endpoint {text!r}: port must be 0-65535")
    port = int(port_text)
    if port == 0 and scheme != "tcpin":
        raise EndpointError(f"endpoint {text!r}: port 0 only makes sense for tcpin")
    return Endpoint(scheme, host, port)


class Link(abc.ABC):
    """Base of the three links: counters and the common interface."""

    datagrams = False
    """True when each receive holds whole frames (UDP), False for a byte stream."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.frames_sent = 0
        self.bytes_sent = 0
        self.frames_dropped = 0
        self.bytes_received = 0
        self._on_bytes: OnBytes = lambda data, peer: None

    async def open(self, on_bytes: OnBytes) -> None:
        """Open the socket; EndpointError when that fails at once."""
        self._on_bytes = on_bytes

    @abc.abstractmethod
    def send(self, frame: bytes) -> None:
        """Send one frame now, or drop it; never blocks."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every socket of the link."""

    @property
    def peers(self) -> int:
        """Return how many peers currently get frames."""
        return 1

    def _received(self, data: bytes, peer: str) -> None:
        self.bytes_received += len(data)
        try:
            self._on_bytes(data, peer)
        except Exception:
            # Garbage from the network never stops the simulator.
            logger.exception("handling %d bytes from %s failed", len(data), peer)

    def _count(self, frame: bytes, sent: bool) -> None:
        if sent:
            self.frames_sent += 1
            self.bytes_sent += len(frame)
        else:
            self.frames_dropped += 1


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, link: UdpOutLink) -> None:
        self.link = link

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.link._received(data, f"udp:{addr[0]}:{addr[1]}")

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable: nobody listens yet; later datagrams may reach.
        self.link.send_errors += 1


class UdpOutLink(Link):
    """Datagrams to one address; replies taken from anyone."""

    datagrams = True

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self.send_errors = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._address: Any = None

    async def open(self, on_bytes: OnBytes) -> None:
        await super().open(on_bytes)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                self.endpoint.host, self.endpoint.port, type=socket.SOCK_DGRAM
            )
            family, _, _, _, address = infos[0]
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), family=family
            )
        except OSError as exc:
            raise EndpointError(f"{self.endpoint}: cannot open: {exc}") from exc
        self._address = address

    def send(self, frame: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            self._count(frame, sent=False)
            return
        self._transport.sendto(frame, self._address)
        self._count(frame, sent=True)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _Stream:
    """One TCP connection: its writer and the task reading from it."""

    def __init__(
        self, writer: asyncio.StreamWriter, reader_task: asyncio.Task[None]
    ) -> None:
        self.writer = writer
        self.reader_task = reader_task

    def write(self, frame: bytes) -> bool:
        transport = self.writer.transport
        if transport.is_closing():
            return False
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            return False
        self.writer.write(frame)
        return True

    async def close(self) -> None:
        self.reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader_task
        self.writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)


async def _read_into(
    link: Link, reader: asyncio.StreamReader, peer: str, closed: asyncio.Event
) -> None:
    try:
        while data := await reader.read(READ_SIZE):
            link._received(data, peer)
    except OSError as exc:
        logger.info("%s: connection %s lost: %s", link.endpoint, peer, exc)
    finally:
        closed.set()


class TcpClientLink(Link):
    """A connection to a TCP server, remade whenever it drops."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self._stream: _Stream | None = None
        self._task: asyncio.Task[None] | None = None
        self.connections = 0

    async def open(self, on_bytes: OnBytes) -> None:
        await super().open(on_bytes)
        self._task = asyncio.create_task(self._keep_connected())

    @property
    def peers(self) -> int:
        return 0 if self._stream is None else 1

    async def _dial(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(
            asyncio.open_connection(self.endpoint.host, self.endpoint.port),
            CONNECT_TIMEOUT_S,
        )

    def _not_connected(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.debug("%s: not connected: %s", self.endpoint, exc)

    async def _keep_connected(self) -> None:
        host, port = self.endpoint.host, self.endpoint.port
        # The simulator may not import telemetry.retry_policy (it is an outside
        # program), so it asks tenacity for the same full-jitter waits directly.
        redial = AsyncRetrying(
            wait=wait_random_exponential(multiplier=_FIRST_REDIAL_S, max=RECONNECT_S),
            retry=retry_if_exception_type((TimeoutError, OSError)),
            before_sleep=self._not_connected,
        )
        while True:
            connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]
            connection = await redial(self._dial)
            reader, writer = connection
            self.connections += 1
            logger.info("%s: connected", self.endpoint)
            closed = asyncio.Event()
            peer = f"tcp:{host}:{port}#{self.connections}"
            task = asyncio.create_task(_read_into(self, reader, peer, closed))
            self._stream = _Stream(writer, task)
            try:
                await closed.wait()
            finally:
                stream, self._stream = self._stream, None
                await stream.close()
            logger.info("%s: disconnected", self.endpoint)
            # Jittered too: a gateway restart drops every drone's link at once.
            await asyncio.sleep(random.uniform(0.0, RECONNECT_S))

    def send(self, frame: bytes) -> None:
        self._count(frame, self._stream is not None and self._stream.write(frame))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class TcpServerLink(Link):
    """A listening socket; every client gets every frame."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self._server: asyncio.Server | None = None
        self._streams: dict[str, _Stream] = {}
        self._accepted = 0
        self.bound_port: int | None = None

    async def open(self, on_bytes: OnBytes) -> None:
        await super().open(on_bytes)
        try:
            self._server = await asyncio.start_server(
                self._accept, self.endpoint.host, self.endpoint.port
            )
        except OSError as exc:
            raise EndpointError(f"{self.endpoint}: cannot listen: {exc}") from exc
        self.bound_port = int(self._server.sockets[0].getsockname()[1])
        logger.info("%s: listening on port %d", self.endpoint, self.bound_port)

    @property
    def peers(self) -> int:
        return len(self._streams)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._accepted += 1
        address = writer.get_extra_info("peername")
        peer = f"tcpin:{address[0]}:{address[1]}#{self._accepted}"
        closed = asyncio.Event()
        task = asyncio.create_task(_read_into(self, reader, peer, closed))
        stream = _Stream(writer, task)
        self._streams[peer] = stream
        logger.info("%s: client %s connected", self.endpoint, peer)
        try:
            await closed.wait()
        finally:
            self._streams.pop(peer, None)
            await stream.close()

    def send(self, frame: bytes) -> None:
        sent = False
        for stream in list(self._streams.values()):
            sent = stream.write(frame) or sent
        self._count(frame, sent)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for stream in list(self._streams.values()):
            await stream.close()
        self._streams.clear()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)


def make_link(endpoint: Endpoint) -> Link:
    """Return the (unopened) link for ``endpoint``."""
    match endpoint.scheme:
        case "udpout":
            return UdpOutLink(endpoint)
        case "tcp":
            return TcpClientLink(endpoint)
        case _:
            return TcpServerLink(endpoint)
