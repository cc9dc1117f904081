"""The ``vessel_crossing`` scenario aimed at its drone: where and when to cross.

The crossing ferry is to pass under the drone flying the site's maritime corridor
(a centre-line corridor with over-water segments). The simulator flies that drone
and its flight is deterministic (see :mod:`simulator.fleet`), so
:func:`plan_crossing` flies a twin of the fleet ahead - that drone only, nothing
sent - to the first moment at or after the requested time when the drone follows
its corridor over the water, low enough for the vessel checks. The ferry
(:func:`simulator.vessels.crossing_vessel`) is then scripted to be exactly there
at that moment, sailing square across the drone's course.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import shapely
from shapely.geometry import LineString

from airspace.vessel_proximity import ProximityLimits, over_water_zones
from simulator.fleet import Fleet

LOOK_AHEAD_S: Final = 900.0
"""How far past the requested time to look for the drone over the water: a whole
out-and-back of the demo's maritime corridor at cruise speed fits in it."""
MAX_HEIGHT_M: Final = ProximityLimits().max_height_m
"""Above this (AMSL) the server checks no vessel: the crossing waits until lower."""


@dataclass(frozen=True)
class Crossing:
    """Where (lon, lat degrees) and when (simulated s) the ferry passes under
    ``drone`` (its fleet label), and the course to sail (degrees true)."""

    drone: str
    lonlat: tuple[float, float]
    at_s: float
    heading_deg: float


def maritime_drone(fleet: Fleet) -> int | None:
    """Return the fleet index of the first drone flying a maritime corridor (a
    centre line with over-water segments), None when no drone does."""
    for index, drone in enumerate(fleet.drones):
        corridor = drone.spec.corridor
        if (
            corridor is not None
            and corridor.over_water
            and isinstance(corridor.geometry_lonlat, LineString)
            and not drone.spec.spoofer
        ):
            return index
    return None


def plan_crossing(twin: Fleet, at_s: float) -> Crossing | None:
    """Return where the maritime drone of ``twin`` is first over its corridor's
    water, on its corridor and below ``MAX_HEIGHT_M``, at or after ``at_s``.

    ``twin`` must be built exactly as the fleet that flies (same specs, seed and
    options); it is flown ahead and spent. None when no drone flies a maritime
    corridor or it is not over the water within ``LOOK_AHEAD_S``.
    """
    index = maritime_drone(twin)
    if index is None:
        return None
    drone = twin.drones[index]
    corridor = drone.spec.corridor
    water = (
        None if corridor is None else over_water_zones(twin.site).get(str(corridor.id))
    )
    if water is None:
        return None
    for t_s in twin.fly_ahead(index):
        if t_s > at_s + LOOK_AHEAD_S:
            return None
        ctl = drone.controller
        s = ctl.state
        if (
            t_s < at_s
            or not ctl.on_corridor_leg
            or s.alt_m >= MAX_HEIGHT_M
            or not shapely.contains_xy(water, s.x_m, s.y_m)
        ):
            continue
        lon, lat = twin.site.projection.to_lonlat(s.x_m, s.y_m)
        course = math.degrees(math.atan2(s.ground_east_mps, s.ground_north_mps))
        return Crossing(
            drone.spec.label,
            (float(lon), float(lat)),
            t_s,
            (course + 90.0) % 360.0,
        )
    return None  # pragma: no cover - fly_ahead never ends
