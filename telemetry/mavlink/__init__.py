"""The MAVLink wing of telemetry: the wire, from bytes to typed messages and back.

What it holds, one module per idea:

- ``endpoints``: endpoint texts (``udpin:HOST:PORT``, ``tcp:``, ``tcpin:``,
  ``serial:DEV:BAUD``) parsed into values, pure.
- ``transports``: asyncio links that move bytes for an endpoint (``open_link``);
  one private module per transport.
- ``codec``: sans-I/O decoding of one link's bytes into typed messages (``LinkCodec``).
- ``fast_codec``: the codec's fast path, clean MAVLink 2 frames of the hot messages
  decoded with precompiled structs (pymavlink takes the rest).
- ``messages``: those typed messages, in SI units, and the raw frames kept for tlogs.
- ``signing``: MAVLink 2 message signing, checked on the way in.
- ``tlog``: the ``.tlog`` file format, read (resynchronising) and written; it imports
  nothing else of SkyBerth, so the simulator may use it too.

Other wings import the names in ``__all__`` from here or from their module. They are
loaded lazily, on first use: the simulator imports ``telemetry.mavlink.tlog``, and
that must not load the codec and transports with it. (``LinkCounters`` exists twice,
for a codec and for a link; import it from ``codec`` or ``transports``.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telemetry.mavlink.codec import Decoded, Framing, LinkCodec
    from telemetry.mavlink.endpoints import Endpoint, EndpointError
    from telemetry.mavlink.messages import (
        Attitude,
        BatteryStatus,
        FenceStatus,
        GlobalPosition,
        GpsRaw,
        Heartbeat,
        RawFrame,
        SignatureRejected,
        StatusText,
        SysStatus,
        Telemetry,
        VfrHud,
    )
    from telemetry.mavlink.tlog import (
        TIME_LEN,
        Record,
        TlogFormatError,
        TlogReader,
        TlogStamp,
        TlogWriter,
        encode_record,
        frame_length,
        read_tlog,
    )
    from telemetry.mavlink.transports import (
        BEHIND_AFTER_S,
        Link,
        LinkOpenError,
        link_key,
        open_link,
        parse_endpoint,
    )

__all__ = [
    "BEHIND_AFTER_S",
    "TIME_LEN",
    "Attitude",
    "BatteryStatus",
    "Decoded",
    "Endpoint",
    "EndpointError",
    "FenceStatus",
    "Framing",
    "GlobalPosition",
    "GpsRaw",
    "Heartbeat",
    "Link",
    "LinkCodec",
    "LinkOpenError",
    "RawFrame",
    "Record",
    "SignatureRejected",
    "StatusText",
    "SysStatus",
    "Telemetry",
    "TlogFormatError",
    "TlogReader",
    "TlogStamp",
    "TlogWriter",
    "VfrHud",
    "encode_record",
    "frame_length",
    "link_key",
    "open_link",
    "parse_endpoint",
    "read_tlog",
]

_HOME: dict[str, str] = {
    **dict.fromkeys(["Decoded", "Framing", "LinkCodec"], "codec"),
    **dict.fromkeys(["Endpoint", "EndpointError"], "endpoints"),
    **dict.fromkeys(
        [
            "Attitude",
            "BatteryStatus",
            "FenceStatus",
            "GlobalPosition",
            "GpsRaw",
            "Heartbeat",
            "RawFrame",
            "SignatureRejected",
            "StatusText",
            "SysStatus",
            "Telemetry",
            "VfrHud",
        ],
        "messages",
    ),
    **dict.fromkeys(
        [
            "TIME_LEN",
            "Record",
            "TlogFormatError",
            "TlogReader",
            "TlogStamp",
            "TlogWriter",
            "encode_record",
            "frame_length",
            "read_tlog",
        ],
        "tlog",
    ),
    **dict.fromkeys(
        [
            "BEHIND_AFTER_S",
            "Link",
            "LinkOpenError",
            "link_key",
            "open_link",
            "parse_endpoint",
        ],
        "transports",
    ),
}
"""Which module of the wing each public name lives in."""


def __getattr__(name: str) -> object:
    """Load a public name from its module on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
