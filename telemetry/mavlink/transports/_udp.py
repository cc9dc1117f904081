"""UDP links: ``udpin`` (listen, answer every recent peer) and ``udpout`` (one peer).

Reads go through ``loop.add_reader`` and drain many datagrams per wakeup, with the
first one's kernel timestamp telling whether the reader is falling behind. When it
is (``SHED_AFTER_S``), the socket is drained whole and only what is fresh and
useful is decoded (``telemetry.mavlink.shedding``): an overloaded gateway works on
where the drones are now, not on where they were seconds ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import platform
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from telemetry.mavlink.endpoints import NetworkEndpoint, format_host_port
from telemetry.mavlink.shedding import (
    DRAIN_EVERY_S,
    DRAIN_MAX,
    SHED_AFTER_S,
    Datagram,
    Shedder,
)
from telemetry.mavlink.transports._base import (
    Link,
    LinkOpenError,
    OnData,
    _open_error,
)

logger = logging.getLogger(__name__)

PEER_TTL_S = 10.0
"""A udpin link sends to every peer heard from within this many seconds."""
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024
"""Asked-for UDP receive buffer: a burst from 1,000 drones must wait, not be lost."""
RESOLVE_TIMEOUT_S = 10.0
_MAX_PEERS = 4096
_GRANTED_IN_FULL = RECEIVE_BUFFER_BYTES * (2 if sys.platform == "linux" else 1)
_RMEM_HINT = f"; sysctl net.core.rmem_max={RECEIVE_BUFFER_BYTES} absorbs longer bursts"
_MAX_DATAGRAM_BYTES = 65535
_DATAGRAMS_PER_WAKEUP = 512
_WAKEUP_BUDGET_S = 0.002
"""Bounds one wakeup's work, counting the gateway's decoding in ``on_data``
(~40 us a datagram), so ticks and websocket senders still run."""
BEHIND_AFTER_S = 0.5
"""A datagram that waited this long in the kernel means the reader is behind."""
_SO_TIMESTAMP: int | None = getattr(
    socket, "SO_TIMESTAMP", 29 if sys.platform == "linux" else None
)
"""Python leaves the constant out on some builds; 29 is Linux's (asm-generic)."""
_TIMEVAL = struct.Struct("@ll")
_TIMESTAMP_CMSG_BYTES = socket.CMSG_SPACE(_TIMEVAL.size)
_ASM_GENERIC_MACHINES = frozenset({"x86_64", "aarch64", "riscv64"})
_AGES_KEPT = 4096
_STAMP_EVERY = 32
"""While draining, every this many datagrams one is read with its kernel stamp
and the ones after it take that stamp (the queue is in arrival order, so theirs is
no earlier): their ages and tlog times err on the old side by at most the time
that many datagrams take to arrive on the link (8 ms at 4,000 a second; a link
sheds only when busy), and ``recvfrom`` costs about 1 µs less than ``recvmsg``."""
READ_PAUSE_S = 0.005
"""After a wakeup that drained the socket, the reader rests this long: under load
the next wakeup reads what came meanwhile in one go (at 4,000 datagrams a second,
about 20) and a datagram waits at most this much longer; a quiet link's next
datagram usually comes after the rest and is read at once. At 1,000 drones this
took the server from 59 % to 45 % of a core (README, issue 21)."""
OVERLOADED_FOR_S = 2.0
"""A link is reported ``overloaded`` this long after its last shed batch."""


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
        self._shedder = Shedder()
        """While behind: the datagrams waiting to be decoded (newest per key)."""
        self._drained_s = -math.inf
        self._overloaded_until_s = -math.inf
        self._paused = False
        """Not watching the socket for a moment (``_pause_reading``)."""
        self._ages: deque[float] = deque(maxlen=_AGES_KEPT)
        """How long recent datagrams had waited when decoded (a wakeup's first,
        every kept one while shedding), seconds."""

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
        allowed = self.allowed
        # One clock read per wakeup: these datagrams all waited in the kernel
        # together, so they share a receive time.
        now_s = self._clock()
        self.counters.wakeups += 1
        deadline = time.perf_counter() + _WAKEUP_BUDGET_S
        if len(self._shedder):
            # Behind: now and then drain what came since into the queue (newest
            # replacing what waits); decode from it meanwhile.
            if now_s - self._drained_s >= DRAIN_EVERY_S:
                self._shed(sock, now_s, 0.0)
            self._decode_kept(now_s, deadline)
            return
        for n in range(_DATAGRAMS_PER_WAKEUP):
            if n & 31 == 31 and time.perf_counter() > deadline:
                return  # the rest waits in the kernel for the next wakeup
            try:
                if n == 0 and self._stamped:
                    data, addr, waited_s = self._recv_first(sock, now_s)
                    self._ages.append(waited_s)
                    if waited_s >= SHED_AFTER_S:
                        first = (data, addr, time.time() - waited_s)
                        self._shed(sock, now_s, waited_s, first)
                        self._decode_kept(now_s, deadline)
                        return
                else:
                    data, addr = recvfrom(_MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                if n:
                    self._pause_reading()
                return
            except OSError as exc:
                # An ICMP error for an earlier send (port unreachable) surfaces here.
                self._send_failed("%s", exc)
                continue
            if peers is None:
                self._deliver(self.link_id, data, now_s)
                continue
            if allowed is not None and not allowed.allows(addr[0]):
                self._refuse_sender(addr[0])
                continue  # never answered either: it is not added to the peers
            peers[addr] = now_s
            if len(peers) > _MAX_PEERS:
                peers = self._forget_peers(now_s)
            self._deliver_from(self.link_id, data, now_s, addr)

    def _pause_reading(self) -> None:
        """Drained: stop watching the socket for ``READ_PAUSE_S``, so that the
        datagrams of the next few milliseconds are read in one wakeup, not one
        wakeup each (each costs the loop a poll and a dispatch, and this reader
        a ``recvfrom`` that finds nothing)."""
        sock = self._sock
        if sock is None or self._paused:
            return
        self._paused = True
        self._loop.remove_reader(sock.fileno())
        self._loop.call_later(READ_PAUSE_S, self._resume_reading)

    def _resume_reading(self) -> None:
        self._paused = False
        sock = self._sock
        if sock is not None:
            self._loop.add_reader(sock.fileno(), self._read_ready)

    def _recv_first(
        self, sock: socket.socket, now_s: float
    ) -> tuple[bytes, Any, float]:
        """Read a wakeup's first datagram with how long it waited in the kernel:
        that tells whether this reader is behind (cheaper than asking every one)."""
        data, ancillary, _flags, addr = sock.recvmsg(
            _MAX_DATAGRAM_BYTES, _TIMESTAMP_CMSG_BYTES
        )
        # The kernel stamps with the real-time clock, whatever ``clock`` is.
        waited_s = max(0.0, time.time() - _stamp(ancillary))
        if waited_s >= BEHIND_AFTER_S:
            self.counters.backlogged_wakeups += 1
            if self.on_backlog is not None:
                self.on_backlog(self.link_id, now_s)
        return data, addr, waited_s

    def _shed(
        self,
        sock: socket.socket,
        now_s: float,
        waited_s: float,
        first: Datagram | None = None,
    ) -> None:
        """Behind: read up to ``DRAIN_MAX`` datagrams into the shedder's queue and
        hand the ones it sheds to ``on_shed`` (to be recorded)."""
        self._drained_s = now_s
        batch: list[Datagram] = [first] if first is not None else []
        recvmsg, recvfrom = sock.recvmsg, sock.recvfrom
        allowed = self.allowed
        peers = self._peers
        arrived_s = time.time()
        for n in range(DRAIN_MAX - len(batch)):
            try:
                if n % _STAMP_EVERY == 0:
                    data, ancillary, _flags, addr = recvmsg(
                        _MAX_DATAGRAM_BYTES, _TIMESTAMP_CMSG_BYTES
                    )
                    arrived_s = _stamp(ancillary)
                else:
                    data, addr = recvfrom(_MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._send_failed("%s", exc)
                continue
            if allowed is not None and not allowed.allows(addr[0]):
                self._refuse_sender(addr[0])
                continue
            batch.append((data, addr, arrived_s))
        if not batch:
            return
        if peers is not None:
            for _, addr, _ in batch:
                peers[addr] = now_s
            if len(peers) > _MAX_PEERS:
                self._forget_peers(now_s)
        starting = not len(self._shedder)
        dropped = self._shedder.add(batch, now_s)
        counters = self.counters
        counters.shed_datagrams += len(dropped)
        counters.shed_batches += starting
        # Read, though not decoded: ``datagrams_in`` counts what left the kernel.
        counters.datagrams_in += len(dropped)
        counters.bytes_in += sum(len(d) for d, _, _ in dropped)
        if starting and now_s >= self._overloaded_until_s:
            logger.warning(
                "%s: overloaded: datagrams waited %.2f s in the kernel; decoding "
                "the newest position of each drone and shedding older ones",
                self.link_id,
                waited_s,
            )
        self._overloaded_until_s = now_s + OVERLOADED_FOR_S
        if self.on_backlog is not None and waited_s < BEHIND_AFTER_S:
            # Behind for as long as it sheds (``_recv_first`` told of a wait over
            # BEHIND_AFTER_S itself): the silence of a drone whose datagrams wait
            # or are shed here is ours, not its link's.
            self.on_backlog(self.link_id, now_s)
        if self.on_shed is not None and dropped:
            try:
                self.on_shed(self.link_id, dropped)
            except Exception:  # a handler boundary: the link must keep reading
                counters.callback_errors += 1
                logger.exception("%s: on_shed raised; reading on", self.link_id)

    def _decode_kept(self, now_s: float, deadline: float) -> None:
        """Decode from the shedder's queue until ``deadline``; while it holds
        more, the loop is asked to come back (the socket may be empty)."""
        take = self._shedder.take
        udpin = self._peers is not None
        ages = self._ages
        wall_s = time.time()
        n = 0
        while (item := take()) is not None:
            data, addr, arrived_s = item
            ages.append(wall_s - arrived_s)
            if udpin:
                self._deliver_from(self.link_id, data, now_s, addr)
            else:
                self._deliver(self.link_id, data, now_s)
            n += 1
            if n & 15 == 0 and time.perf_counter() > deadline:
                break
        if len(self._shedder):
            self._loop.call_soon(self._read_ready)

    def decode_age_s(self) -> tuple[float, float, float]:
        """(median, 99th percentile, max) of how long recent datagrams waited
        between the kernel's receive and their decoding."""
        ages = sorted(self._ages)
        if not ages:
            return (0.0, 0.0, 0.0)
        return ages[len(ages) // 2], ages[int(0.99 * (len(ages) - 1))], ages[-1]

    @property
    def overloaded(self) -> bool:
        """Shedding now, or within the last ``OVERLOADED_FOR_S``."""
        return self._clock() < self._overloaded_until_s

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


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive time (epoch seconds) in ``recvmsg``'s ancillary data;
    now when the kernel gave none.

    Linux turns receive stamping on for the whole system in deferred work when the
    first socket asks for it; until that has run, a datagram is stamped when it is
    read. So a process's first datagrams may read as fresh though they waited:
    at worst one late start of shedding, never a false one."""
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMP:
            sec, usec = _TIMEVAL.unpack_from(payload)
            return float(sec + usec / 1e6)
    return time.time()


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
