"""Drone-vessel proximity over water: which pairs warrant a warning or a breach.

Pure geometry in the site's metric CRS, one vectorised pass per tick:

1. :func:`over_water_zones` turns each corridor's over-water flags (``over_water``,
   ``over_water_segments``) into a polygon in site metres, once per site.
2. :func:`proximity_alerts` keeps the flying drones inside one of those zones and
   below ``max_height_m``, computes CPA/TCPA against every vessel
   (:func:`airspace.cpa.cpa_matrix`), and returns an alert per pair that is
   either already closer than ``breach_m`` (a breach: an incident) or will pass
   within ``warn_dcpa_m`` in the next ``horizon_s`` seconds (a warning).

The defaults and their reasons are in :class:`ProximityLimits` (and docs/ais.md).
:func:`site_area` is where a site's vessels are: the raw AIS recording keeps a
vessel's sentences for the sites it is near.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from airspace.cpa import FloatArray, cpa_matrix
from airspace.site import Corridor, Site

AlertKind = Literal["vessel_proximity", "vessel_separation_breach"]
WARNING: Final = "vessel_proximity"
BREACH: Final = "vessel_separation_breach"


@dataclass(frozen=True, slots=True)
class ProximityLimits:
    """Thresholds of the vessel checks, in metres and seconds."""

    warn_dcpa_m: float = 150.0
    """Warn when the pass will be closer than this: a large ship's half-length plus
    its wake and the turbulence off its superstructure, with room to climb away."""
    breach_m: float = 50.0
    """Actual horizontal separation below this is a breach (an incident): inside
    the hull and mast envelope of most harbour craft plus GNSS error on both sides."""
    max_height_m: float = 80.0
    """Only drones lower than this (metres above sea level) are checked: the air
    draught of the largest container ships in the fairway is about 70 m."""
    horizon_s: float = 120.0
    """Look this far ahead: a 25 kn ferry covers 1.5 km in that time."""
    search_radius_m: float = 5000.0
    """Vessels farther than this from a drone now are ignored."""


NEAR_SITE_M = 10_000.0
"""A vessel within this of a site's pads, corridors or geofences belongs to the
site's AIS recording: a 25 kn ferry is 12 minutes out, and the approaches to a
corridor (the fairway a replay wants to show) are inside it."""


def site_area(site: Site, radius_m: float = NEAR_SITE_M) -> BaseGeometry:
    """Return the site's pads, corridors and geofences grown by ``radius_m``, in
    site metres (prepared; just the reference point grown when it has none)."""
    parts: list[BaseGeometry] = [p.geometry_m for p in site.pads]
    parts += [c.volume.outline for c in site.corridors]
    parts += [g.volume.outline for g in site.geofences]
    if not parts:
        x, y = site.projection.to_metric(site.ref_lon_deg, site.ref_lat_deg)
        parts = [shapely.Point(float(x), float(y))]
    area = shapely.unary_union(parts).buffer(radius_m)
    shapely.prepare(area)
    return area


@dataclass(frozen=True, slots=True)
class ProximityAlert:
    """One drone-vessel pair that passes too close (indexes into the inputs)."""

    kind: AlertKind
    drone: int
    vessel: int
    range_m: float
    tcpa_s: float
    dcpa_m: float


def over_water_zones(site: Site, margin_m: float = 0.0) -> dict[str, BaseGeometry]:
    """Return, per corridor with water under it, its over-water area in site metres.

    A corridor flagged ``over_water`` with no segment list is over water along its
    whole outline; with ``over_water_segments`` only those segments of its centre
    line count, each buffered by the half-width (plus ``margin_m``).
    """
    zones: dict[str, BaseGeometry] = {}
    for corridor in site.corridors:
        zone = _zone(site, corridor, margin_m)
        if zone is not None:
            shapely.prepare(zone)
            zones[str(corridor.id)] = zone
    return zones


def _zone(site: Site, corridor: Corridor, margin_m: float) -> BaseGeometry | None:
    if not corridor.over_water:
        return None
    outline: Polygon = corridor.volume.outline
    line = corridor.geometry_lonlat
    if not corridor.over_water_segments or not isinstance(line, LineString):
        return outline.buffer(margin_m) if margin_m else outline
    line_m = site.projection.geometry_to_metric(line)
    coords = list(line_m.coords)
    width = (corridor.half_width_m or 0.0) + margin_m
    segments = [
        LineString([coords[i], coords[i + 1]])
        for i in corridor.over_water_segments
        if i + 1 < len(coords)
    ]
    return shapely.union_all(shapely.buffer(segments, width))


def over_water_mask(
    zones: list[BaseGeometry], x_m: FloatArray, y_m: FloatArray
) -> np.ndarray:
    """Return a boolean array: which points lie in any of ``zones``."""
    mask = np.zeros(len(x_m), dtype=bool)
    for zone in zones:
        mask |= shapely.contains_xy(zone, x_m, y_m)
    return mask


def proximity_alerts(
    drone_xy: FloatArray,
    drone_v: FloatArray,
    drone_height_m: FloatArray,
    over_water: np.ndarray,
    vessel_xy: FloatArray,
    vessel_v: FloatArray,
    limits: ProximityLimits,
) -> list[ProximityAlert]:
    """Return an alert per (drone, vessel) pair that passes too close.

    Drones are rows of ``drone_xy`` (N, 2) metres with velocities ``drone_v`` (N, 2)
    m/s, heights above sea level and an over-water mask; vessels likewise (M, 2).
    Only drones over water and below ``limits.max_height_m`` are checked. A pair
    closer than ``breach_m`` now is a breach; otherwise a pair whose CPA is ahead
    within ``horizon_s`` (or now) and closer than ``warn_dcpa_m`` is a warning.
    """
    checked = np.flatnonzero(
        over_water & (np.asarray(drone_height_m) < limits.max_height_m)
    )
    if checked.size == 0 or len(vessel_xy) == 0:
        return []
    m = cpa_matrix(drone_xy[checked], drone_v[checked], vessel_xy, vessel_v)
    near = m.range_m < limits.search_radius_m
    breach = near & (m.range_m < limits.breach_m)
    soon = (m.tcpa_s <= limits.horizon_s) & (m.dcpa_m < limits.warn_dcpa_m)
    warn = near & ~breach & soon
    alerts: list[ProximityAlert] = []
    for kind, mask in ((BREACH, breach), (WARNING, warn)):
        for i, j in zip(*np.nonzero(mask), strict=True):
            alerts.append(
                ProximityAlert(
                    kind,  # type: ignore[arg-type]  # one of the two Final literals
                    int(checked[i]),
                    int(j),
                    float(m.range_m[i, j]),
                    float(m.tcpa_s[i, j]),
                    float(m.dcpa_m[i, j]),
                )
            )
    return alerts
