"""The link every transport is: :class:`Link`, its counters and callbacks.

A :class:`Link` is one open endpoint; the UDP, TCP and serial modules beside this one
subclass it. What they share lives here: delivering bytes to ``on_data`` (counting,
and surviving a raising callback), counting dropped sends, closing once, and the
callback types and the write-buffer bound every transport applies.
"""

from __future__ import annotations

import abc
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeAlias

from telemetry.log_limits import RateLimitedLog
from telemetry.mavlink.endpoints import Endpoint
from telemetry.mavlink.sender_filter import SenderFilter

logger = logging.getLogger(__name__)

OnData: TypeAlias = Callable[[str, bytes, float], None]
"""``on_data(stream_id, data, now_s)``; must be quick: it runs on the event loop."""
OnDataFrom: TypeAlias = Callable[[str, bytes, float, Any], None]
"""``on_data_from(stream_id, data, now_s, source)``: as ``on_data``, with the
sender's address (a ``udpin`` link's datagrams come from many senders)."""
OnBacklog = Callable[[str, float], None]
"""``on_backlog(link_id, now_s)``: a UDP read left datagrams waiting."""
OnShed: TypeAlias = Callable[[str, list[tuple[bytes, Any, float]]], None]
"""``on_shed(link_id, datagrams)``: datagrams (bytes, sender, kernel arrival time)
read but not decoded while the reader was behind; to be recorded, not decoded."""
OnStreamEnd: TypeAlias = Callable[[str], None]
"""``on_stream_end(stream_id)``: drop any partial-frame state kept for that stream."""

MAX_WRITE_BUFFER_BYTES = 1024 * 1024
"""Past this many unsent bytes to one peer, further sends are dropped and counted."""


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
    wakeups: int = 0
    """UDP: times the socket was read (one loop wakeup each, however many
    datagrams it took): ``datagrams_in`` / ``wakeups`` is how well reads batch."""
    backlogged_wakeups: int = 0
    """UDP: reads whose first datagram had waited ``BEHIND_AFTER_S`` or more in
    the kernel: the reader is behind, and what overflows the receive buffer is
    dropped by the kernel."""
    refused_senders: int = 0
    """Datagrams (udpin) or connections (tcpin) refused: the sender lies outside
    the link's allowed networks (``--mavlink-allow``)."""
    shed_datagrams: int = 0
    """UDP: datagrams read but not decoded while the reader was behind: older
    positions and routine messages superseded in the same batch
    (``telemetry.mavlink.shedding``); counted in ``datagrams_in`` too."""
    shed_batches: int = 0
    """UDP: batches drained and shed because the reader was behind."""


def _open_error(endpoint: Endpoint, exc: OSError) -> LinkOpenError:
    reason = exc.strerror or str(exc)
    return LinkOpenError(
        exc.errno or errno.EIO, f"cannot open {endpoint.spec}: {reason}"
    )


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
        # Keys "on_data" and "send": a flood of one never hides the other.
        self._log_limited = RateLimitedLog(logger)
        self.receive_buffer_bytes: int | None = None
        """UDP only: the socket's receive buffer as the kernel reports it."""
        self.on_backlog: OnBacklog | None = None
        """UDP only: called ``(link_id, now_s)`` when a read stops with datagrams
        still waiting, i.e. the reader is behind and the kernel may drop some."""
        self.on_data_from: OnDataFrom | None = None
        """udpin only: when set, called instead of ``on_data`` with each datagram's
        source address, so the receiver can tell senders apart (pinning)."""
        self.on_shed: OnShed | None = None
        """UDP only: called ``(link_id, datagrams)`` with the datagrams shed while
        the reader was behind (``telemetry.mavlink.shedding``), to record them."""
        self.allowed: SenderFilter | None = None
        """udpin and tcpin: when set, senders it does not allow are refused and
        counted in ``refused_senders`` (logged at most once a minute)."""

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

    def decode_age_s(self) -> tuple[float, float, float]:
        """(median, 99th percentile, max) seconds recent input waited before it
        was decoded; UDP only (the kernel stamps each datagram), else zeros."""
        return (0.0, 0.0, 0.0)

    @property
    def overloaded(self) -> bool:
        """Shedding load because the reader is behind (UDP only:
        ``telemetry.mavlink.shedding``); a stream's sender is slowed by TCP instead."""
        return False

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
            self._log_limited(
                logging.ERROR,
                "on_data",
                "%s: on_data raised; reading on",
                stream_id,
                exc_info=True,
            )

    def _deliver_from(
        self, stream_id: str, data: bytes, now_s: float, source: Any
    ) -> None:
        """As ``_deliver``, through ``on_data_from`` with the sender's address."""
        on_data_from = self.on_data_from
        if on_data_from is None:
            self._deliver(stream_id, data, now_s)
            return
        counters = self.counters
        counters.datagrams_in += 1
        counters.bytes_in += len(data)
        try:
            on_data_from(stream_id, data, now_s, source)
        except Exception:  # a handler boundary: the link must keep reading
            counters.callback_errors += 1
            self._log_limited(
                logging.ERROR,
                "on_data",
                "%s: on_data raised; reading on",
                stream_id,
                exc_info=True,
            )

    def _refuse_sender(self, host: str) -> None:
        self.counters.refused_senders += 1
        self._log_limited(
            logging.WARNING,
            "refused",
            "%s: refused a sender outside the allowed networks (%s; %d so far)",
            self.link_id,
            host,
            self.counters.refused_senders,
        )

    def _send_failed(self, reason: str, *args: object) -> None:
        self.counters.send_errors += 1
        self._log_limited(
            logging.WARNING,
            "send",
            f"%s: send dropped: {reason}",
            self.link_id,
            *args,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.link_id} closed={self._closed}>"
