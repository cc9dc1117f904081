"""MAVLink endpoint texts: ``udpin:HOST:PORT``, ``tcp:HOST:PORT``, ``serial:DEV:BAUD``.

:func:`parse_endpoint` turns the text users type (``--mavlink``, ``--to``) into an
:data:`Endpoint`, or says exactly what is wrong and shows the valid forms. Pure: no
name resolution, no device check; ``transports`` opens what this describes.
"""

from __future__ import annotations

import ipaddress
import re
import termios
from dataclasses import dataclass
from typing import Literal, TypeAlias

NetworkKind: TypeAlias = Literal["udpin", "udpout", "tcp", "tcpin"]

VALID_FORMS = (
    "udpin:HOST:PORT (listen, e.g. udpin:0.0.0.0:14550), "
    "udpout:HOST:PORT (send to one peer), "
    "tcp:HOST:PORT (connect, e.g. tcp:127.0.0.1:5760), "
    "tcpin:HOST:PORT (accept connections), "
    "serial:DEVICE:BAUD (e.g. serial:/dev/ttyUSB0:57600); "
    "IPv6 hosts in brackets, e.g. udpin:[::]:14550"
)
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_LISTENERS = frozenset({"udpin", "tcpin"})
# Every rate this platform's termios names, from 1200 up (B0 means hang up).
_SERIAL_BAUDS = sorted(
    int(name[1:])
    for name in dir(termios)
    if re.fullmatch(r"B\d+", name) and int(name[1:]) >= 1200
)


class EndpointError(ValueError):
    """An endpoint text that does not parse; the message shows the valid forms."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(
            f"bad MAVLink endpoint {spec!r}: {reason}. Valid forms: {VALID_FORMS}"
        )
        self.spec = spec
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NetworkEndpoint:
    """A UDP or TCP endpoint; ``host`` is unbracketed (``::1``, not ``[::1]``)."""

    kind: NetworkKind
    host: str
    port: int

    @property
    def spec(self) -> str:
        """The canonical text form, e.g. ``udpin:[::]:14550``."""
        return f"{self.kind}:{format_host_port(self.host, self.port)}"

    @property
    def is_stream(self) -> bool:
        """True when bytes arrive as a stream (chunks cut anywhere), not datagrams."""
        return self.kind in ("tcp", "tcpin")

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True, slots=True)
class SerialEndpoint:
    """A serial device (``/dev/ttyUSB0``, a telemetry radio) at a baud rate."""

    device: str
    baud: int
    kind: Literal["serial"] = "serial"

    @property
    def spec(self) -> str:
        return f"serial:{self.device}:{self.baud}"

    @property
    def is_stream(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.spec


Endpoint: TypeAlias = NetworkEndpoint | SerialEndpoint


def format_host_port(host: str, port: int) -> str:
    """Return ``host:port``, bracketing IPv6 hosts (``[::1]:5760``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def link_key(stream_id: str) -> str:
    """Return the link a stream belongs to: ``tcpin:0.0.0.0:5760#peer`` → its link."""
    return stream_id.partition("#")[0]


def parse_endpoint(spec: str) -> Endpoint:
    """Return the endpoint that ``spec`` (e.g. ``udpin:0.0.0.0:14550``) describes.

    Raises :class:`EndpointError` (a ``ValueError``) naming what is wrong and listing
    the valid forms. Pure: no name resolution, no device check.
    """
    text = spec.strip()
    if not text:
        raise EndpointError(spec, "it is empty")
    scheme, sep, rest = text.partition(":")
    kind = scheme.lower()
    if not sep:
        raise EndpointError(spec, "no transport prefix")
    if kind == "serial":
        return _parse_serial(spec, rest)
    if kind not in ("udpin", "udpout", "tcp", "tcpin"):
        hint = " (use udpin to listen or udpout to send)" if kind == "udp" else ""
        raise EndpointError(spec, f"unknown transport {scheme!r}{hint}")
    host, port = _parse_host_port(spec, rest)
    if port == 0 and kind not in _LISTENERS:
        raise EndpointError(
            spec, f"port 0 (any free port) only suits a listener, not {kind}"
        )
    network_kind: NetworkKind = kind  # type: ignore[assignment]  # checked just above
    return NetworkEndpoint(network_kind, host, port)


def _parse_host_port(spec: str, rest: str) -> tuple[str, int]:
    if rest.startswith("["):
        host, bracket, after = rest[1:].partition("]")
        if not bracket:
            raise EndpointError(
                spec, "an IPv6 host opened with '[' is never closed by ']'"
            )
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise EndpointError(spec, f"{host!r} is not an IPv6 address") from None
        if not after.startswith(":"):
            raise EndpointError(spec, "no port after the IPv6 host")
        port_text = after[1:]
    else:
        host, sep, port_text = rest.rpartition(":")
        if not sep:
            raise EndpointError(spec, "no port (expected HOST:PORT)")
        if not host:
            raise EndpointError(spec, "no host (use 0.0.0.0 for every IPv4 interface)")
        if ":" in host:
            raise EndpointError(spec, f"IPv6 host {host!r} must be in brackets")
        if not _HOSTNAME.match(host):
            raise EndpointError(spec, f"{host!r} is not a host name or address")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise EndpointError(spec, f"port {port_text!r} is not a number from 0 to 65535")
    return host, int(port_text)


def _parse_serial(spec: str, rest: str) -> SerialEndpoint:
    # rpartition: a device path may hold colons (/dev/serial/by-path/...-usb-0:1.2:1.0)
    device, sep, baud_text = rest.rpartition(":")
    if not sep or not device:
        raise EndpointError(spec, "serial needs a device and a baud rate")
    if not baud_text.isdigit() or int(baud_text) not in _SERIAL_BAUDS:
        rates = ", ".join(str(b) for b in _SERIAL_BAUDS)
        raise EndpointError(spec, f"baud rate {baud_text!r} is not one of {rates}")
    return SerialEndpoint(device, int(baud_text))
