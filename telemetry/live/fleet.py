"""Who a MAVLink system id is: the registered drones, their bookings, the closures.

The gateway needs, for every sysid it hears, the registered drone (if any), that
drone's booking for *now*, and the signing key to check its frames with. Reading the
database per message is out of the question, so the composition root loads a
``FleetDirectory`` snapshot (in a worker thread) every few seconds and whenever a
booking or closure changes; the gateway swaps it in whole. Pure values, no I/O.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from airspace.volume import Volume


@dataclass(frozen=True, slots=True)
class DroneEntry:
    drone_id: str
    name: str
    site_id: str
    operator_id: str
    sysid: int
    signing_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class BookingEntry:
    """An approved or active booking; times are UTC epoch seconds."""

    booking_id: int
    drone_id: str
    site_id: str
    operator_id: str
    corridor_id: str | None
    start_s: float
    end_s: float
    state: str
    takeoff_pad_id: str | None = None
    landing_pad_id: str | None = None

    def covers(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True, slots=True)
class AreaClosure:
    """A closed area (site metres + band) that acts as an exclusion while active."""

    closure_id: int
    site_id: str
    volume: Volume
    start_s: float
    end_s: float

    def covers(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True)
class FleetDirectory:
    """One consistent snapshot of drones, flyable bookings and area closures."""

    drones: tuple[DroneEntry, ...] = ()
    bookings: tuple[BookingEntry, ...] = ()
    closures: tuple[AreaClosure, ...] = ()
    _by_sysid: Mapping[int, tuple[DroneEntry, ...]] = field(
        init=False, repr=False, compare=False
    )
    _by_drone: Mapping[str, tuple[BookingEntry, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_sysid: defaultdict[int, list[DroneEntry]] = defaultdict(list)
        for drone in self.drones:
            by_sysid[drone.sysid].append(drone)
        by_drone: defaultdict[str, list[BookingEntry]] = defaultdict(list)
        for booking in self.bookings:
            by_drone[booking.drone_id].append(booking)
        object.__setattr__(
            self, "_by_sysid", {k: tuple(v) for k, v in by_sysid.items()}
        )
        object.__setattr__(
            self, "_by_drone", {k: tuple(v) for k, v in by_drone.items()}
        )

    def drones_with_sysid(self, sysid: int) -> tuple[DroneEntry, ...]:
        """Every registered drone with this sysid (one per site at most)."""
        return self._by_sysid.get(sysid, ())

    def booking_for(self, drone_id: str, t_s: float) -> BookingEntry | None:
        """The drone's approved or active booking whose window holds ``t_s``."""
        for booking in self._by_drone.get(drone_id, ()):
            if booking.covers(t_s):
                return booking
        return None

    def signing_keys(self) -> dict[int, tuple[bytes, ...]]:
        """sysid → the keys of the drones registered with it and a key, one per
        site: keys belong to (site, sysid), never to a sysid across sites (an
        operator registering another site's sysid adds a key, replaces none)."""
        keys: defaultdict[int, list[bytes]] = defaultdict(list)
        for drone in self.drones:
            if drone.signing_key:
                keys[drone.sysid].append(drone.signing_key)
        return {sysid: tuple(group) for sysid, group in keys.items()}

    def active_closures(self, site_id: str, t_s: float) -> tuple[AreaClosure, ...]:
        return tuple(c for c in self.closures if c.site_id == site_id and c.covers(t_s))


def nearest_site(
    lon_deg: float, lat_deg: float, refs: Iterable[tuple[str, float, float]]
) -> str | None:
    """The site whose reference point is nearest (equirectangular, fine at site
    scale), or None if there are no sites or the position is unknown."""
    if not (math.isfinite(lon_deg) and math.isfinite(lat_deg)):
        return None
    best: tuple[float, str] | None = None
    coslat = math.cos(math.radians(lat_deg))
    for site_id, ref_lon, ref_lat in refs:
        d2 = ((lon_deg - ref_lon) * coslat) ** 2 + (lat_deg - ref_lat) ** 2
        if best is None or d2 < best[0]:
            best = (d2, site_id)
    return None if best is None else best[1]
