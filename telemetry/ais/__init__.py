"""AIS input: NMEA 0183 ``!AIVDM``/``!AIVDO`` bytes to typed vessel messages.

A wing beside ``mavlink`` (same layer, imports none of the others): ``codec.py`` is
sans-I/O (bytes and ``now`` in, ``messages.py`` values out, bad input counted per
link). The sockets are MAVLink's transports (``telemetry.mavlink.transports``), which
move bytes and know nothing of the protocol.
"""

from telemetry.ais.codec import AisCounters, AisDecoded, AisLinkCodec, to_messages
from telemetry.ais.messages import (
    KNOT_MPS,
    AidToNavigation,
    AisMessage,
    AisSentence,
    VesselPosition,
    VesselStatic,
)

__all__ = [
    "KNOT_MPS",
    "AidToNavigation",
    "AisCounters",
    "AisDecoded",
    "AisLinkCodec",
    "AisMessage",
    "AisSentence",
    "VesselPosition",
    "VesselStatic",
    "to_messages",
]
