"""What the AIS codec emits: typed vessel messages, units in names, sentinels None.

``codec.py`` turns pyais' decoded messages into these frozen values once, so nothing
downstream sees AIS's raw conventions: "not available" sentinels (heading 511,
course 360, speed 102.3 kn, latitude 91, longitude 181) become ``None``, speed is in
metres per second as well as knots, and every message carries ``t_s``, the UTC epoch
seconds at which the bytes arrived (the ``now`` the codec was given; AIS itself only
sends the UTC second of the minute).

``AisSentence`` is one checksum-valid NMEA sentence exactly as received, for the raw
recording (like a ``.tlog`` frame for MAVLink).
"""

from __future__ import annotations

from dataclasses import dataclass

from airspace.cpa import KNOT_MPS as KNOT_MPS


@dataclass(frozen=True, slots=True)
class AisSentence:
    """One checksum-valid ``!AIVDM``/``!AIVDO`` sentence, text as received."""

    t_s: float
    text: str
    mmsi: int | None = None
    """The vessel its message is about; None when the message could not be decoded
    or never completed (a multi-part message missing a part)."""


@dataclass(frozen=True, slots=True)
class VesselPosition:
    """Position report: types 1/2/3 (Class A), 18 and 19 (Class B)."""

    mmsi: int
    t_s: float
    msg_type: int
    lat_deg: float | None
    lon_deg: float | None
    sog_kn: float | None
    """Speed over ground in knots; None when not available (102.3)."""
    cog_deg: float | None
    """Course over ground, degrees true; None when not available (360)."""
    heading_deg: int | None
    """True heading; None when not available (511)."""
    nav_status: int | None
    """Navigation status (0 under way ... 15 not defined); None for Class B."""
    own_ship: bool
    """From an ``AIVDO`` sentence: our own receiver's vessel."""

    @property
    def sog_mps(self) -> float | None:
        """Speed over ground in metres per second."""
        return None if self.sog_kn is None else self.sog_kn * KNOT_MPS


@dataclass(frozen=True, slots=True)
class VesselStatic:
    """Static and voyage data: type 5, 19's static half, or one part of type 24.

    A field the message does not carry (24 part A carries only the name) is None, so
    folding it into a vessel's state keeps what an earlier message said.
    """

    mmsi: int
    t_s: float
    msg_type: int
    name: str | None
    callsign: str | None
    ship_type: int | None
    length_m: float | None
    """Bow plus stern distance from the reference point; None when unknown (0)."""
    beam_m: float | None
    """Port plus starboard distance; None when unknown (0)."""


@dataclass(frozen=True, slots=True)
class AidToNavigation:
    """Type 21: a buoy, beacon or light, real or virtual."""

    mmsi: int
    t_s: float
    aid_type: int
    name: str
    lat_deg: float | None
    lon_deg: float | None
    virtual: bool
    off_position: bool


AisMessage = VesselPosition | VesselStatic | AidToNavigation
