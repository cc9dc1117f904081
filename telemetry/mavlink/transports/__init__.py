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

Layout: ``_base`` holds :class:`Link` and what every transport shares; ``_udp``,
``_tcp`` (client and server) and ``_serial`` hold one transport each; this module
holds :func:`open_link`, the one entry point that picks the transport, and
re-exports the public names (import them from here, not from the private modules).
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
from telemetry.mavlink.transports._base import (
    MAX_WRITE_BUFFER_BYTES,
    Link,
    LinkCounters,
    LinkOpenError,
    OnBacklog,
    OnData,
    OnDataFrom,
    OnShed,
    OnStreamEnd,
    _open_error,
)
from telemetry.mavlink.transports._serial import _SerialLink
from telemetry.mavlink.transports._tcp import (
    CONNECT_TIMEOUT_S,
    MAX_TCP_CLIENTS,
    _TcpClientLink,
    _TcpServerLink,
)
from telemetry.mavlink.transports._udp import (
    BEHIND_AFTER_S,
    PEER_TTL_S,
    RECEIVE_BUFFER_BYTES,
    RESOLVE_TIMEOUT_S,
    _UdpLink,
)

__all__ = [
    "BEHIND_AFTER_S",
    "CONNECT_TIMEOUT_S",
    "MAX_TCP_CLIENTS",
    "MAX_WRITE_BUFFER_BYTES",
    "PEER_TTL_S",
    "RECEIVE_BUFFER_BYTES",
    "RESOLVE_TIMEOUT_S",
    "VALID_FORMS",
    "Endpoint",
    "EndpointError",
    "Link",
    "LinkCounters",
    "LinkOpenError",
    "NetworkEndpoint",
    "NetworkKind",
    "OnBacklog",
    "OnData",
    "OnDataFrom",
    "OnShed",
    "OnStreamEnd",
    "SerialEndpoint",
    "format_host_port",
    "link_key",
    "open_link",
    "parse_endpoint",
]


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
    (first, longest) ceiling of the jittered, doubling waits between redials of a
    ``tcp`` client or serial reopens (:func:`telemetry.retry_policy.jittered_waits`).

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
