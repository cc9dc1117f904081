"""Live vessels from AIS: one state per MMSI, folded from the codec's messages.

:class:`VesselTable` holds every vessel heard, bounded (``max_vessels``; the one
heard longest ago goes first) and with staleness (``stale_after_s``): a vessel not
heard for that long is dropped by :meth:`VesselTable.expire`. The default stale time
is six minutes: a Class A vessel at anchor reports every 3 minutes and static data
comes every 6 (ITU-R M.1371), so a vessel silent for longer is gone or out of range.

Each vessel keeps a short trail of positions for the map and the incident evidence.
Everything here takes ``now_s`` from the caller; nothing reads a clock.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Final

from telemetry.ais.messages import (
    AidToNavigation,
    AisMessage,
    VesselPosition,
    VesselStatic,
)

STALE_AFTER_S: Final = 360.0
MAX_VESSELS: Final = 2000
TRAIL_LEN: Final = 60
"""Positions kept per vessel: ten minutes at a Class A vessel's 10 s interval."""


@dataclass(frozen=True, slots=True)
class TrailPoint:
    """One reported position of a vessel, WGS84 degrees, UTC epoch seconds."""

    t_s: float
    lat_deg: float
    lon_deg: float
    sog_kn: float | None
    cog_deg: float | None


@dataclass(slots=True)
class VesselState:
    """What is known of one vessel (or aid to navigation) by its MMSI."""

    mmsi: int
    last_seen_s: float
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    length_m: float | None = None
    beam_m: float | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    sog_kn: float | None = None
    cog_deg: float | None = None
    heading_deg: int | None = None
    nav_status: int | None = None
    position_s: float | None = None
    aid_to_navigation: bool = False
    trail: deque[TrailPoint] = field(default_factory=lambda: deque(maxlen=TRAIL_LEN))

    @property
    def has_position(self) -> bool:
        """Whether a position has been reported."""
        return self.lat_deg is not None and self.lon_deg is not None

    def apply(self, msg: AisMessage) -> None:
        """Fold one message in; fields it does not carry keep their values."""
        self.last_seen_s = max(self.last_seen_s, msg.t_s)
        if isinstance(msg, VesselPosition):
            self.sog_kn, self.cog_deg = msg.sog_kn, msg.cog_deg
            self.heading_deg, self.nav_status = msg.heading_deg, msg.nav_status
            if msg.lat_deg is not None and msg.lon_deg is not None:
                self.lat_deg, self.lon_deg = msg.lat_deg, msg.lon_deg
                self.position_s = msg.t_s
                self.trail.append(
                    TrailPoint(
                        msg.t_s, msg.lat_deg, msg.lon_deg, msg.sog_kn, msg.cog_deg
                    )
                )
        elif isinstance(msg, VesselStatic):
            for name in ("name", "callsign", "ship_type", "length_m", "beam_m"):
                value = getattr(msg, name)
                if value is not None:
                    setattr(self, name, value)
        elif isinstance(msg, AidToNavigation):
            self.aid_to_navigation = True
            self.name = msg.name or self.name
            if msg.lat_deg is not None and msg.lon_deg is not None:
                self.lat_deg, self.lon_deg = msg.lat_deg, msg.lon_deg
                self.position_s = msg.t_s

    def frame(self) -> dict[str, Any]:
        """This vessel as in the live stream's ``vessels`` frame."""
        return {
            "mmsi": self.mmsi,
            "name": self.name,
            "callsign": self.callsign,
            "ship_type": self.ship_type,
            "length_m": self.length_m,
            "beam_m": self.beam_m,
            "lat_deg": None if self.lat_deg is None else round(self.lat_deg, 6),
            "lon_deg": None if self.lon_deg is None else round(self.lon_deg, 6),
            "sog_kn": self.sog_kn,
            "cog_deg": self.cog_deg,
            "heading_deg": self.heading_deg,
            "nav_status": self.nav_status,
            "aton": self.aid_to_navigation,
            "t_s": None if self.position_s is None else round(self.position_s, 3),
            "last_seen_s": round(self.last_seen_s, 3),
            "trail": [[round(p.lon_deg, 6), round(p.lat_deg, 6)] for p in self.trail],
        }


class VesselTable:
    """Every live vessel by MMSI; bounded and expiring (see the module docstring)."""

    def __init__(
        self,
        *,
        stale_after_s: float = STALE_AFTER_S,
        max_vessels: int = MAX_VESSELS,
    ) -> None:
        self.stale_after_s = stale_after_s
        self.max_vessels = max_vessels
        self._vessels: OrderedDict[int, VesselState] = OrderedDict()
        """Least recently heard first, so eviction and expiry look at the front."""
        self.changed: set[int] = set()
        """MMSIs changed since the caller last cleared it (for batched frames)."""
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._vessels)

    def __contains__(self, mmsi: object) -> bool:
        return mmsi in self._vessels

    def get(self, mmsi: int) -> VesselState | None:
        """Return the vessel with ``mmsi``, or None."""
        return self._vessels.get(mmsi)

    def vessels(self) -> list[VesselState]:
        """Every vessel, least recently heard first."""
        return list(self._vessels.values())

    def apply(self, msg: AisMessage) -> VesselState:
        """Fold ``msg`` into its vessel (made on first sight) and return it."""
        vessel = self._vessels.get(msg.mmsi)
        if vessel is None:
            while len(self._vessels) >= self.max_vessels:
                self._vessels.popitem(last=False)
                self.evicted += 1
            vessel = self._vessels[msg.mmsi] = VesselState(msg.mmsi, msg.t_s)
        else:
            self._vessels.move_to_end(msg.mmsi)
        vessel.apply(msg)
        self.changed.add(msg.mmsi)
        return vessel

    def expire(self, now_s: float) -> list[int]:
        """Drop vessels not heard for ``stale_after_s``; return their MMSIs."""
        gone: list[int] = []
        limit = now_s - self.stale_after_s
        while self._vessels:
            mmsi, vessel = next(iter(self._vessels.items()))
            if vessel.last_seen_s >= limit:
                break
            del self._vessels[mmsi]
            self.changed.discard(mmsi)
            gone.append(mmsi)
        self.expired += len(gone)
        return gone
