"""Flight plans: from a pad, up to the corridor's band, along the corridor, back, down.

A plan is a list of waypoints in site metres (x east, y north, altitude AMSL) that
the flight controller follows after a vertical take-off from ``takeoff_xy`` and
before a vertical landing on ``landing_xy``:

- a **centre-line corridor** is flown along its centre line from the end nearer the
  pad to the other end and back (``laps`` times);
- a **polygon corridor** is flown as a loop around the outline shrunk by a margin
  (about a third of its half-width, between ``MIN_INSET_M`` and ``MAX_INSET_M``),
  ``laps`` times, so corner cutting and turns stay well inside;
- the cruise altitude is the middle of the corridor's band.

Legs between the pad and the corridor are marked ``in_corridor=False``: the
scenarios that need the drone inside its corridor wait for a leg that is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import substring

from airspace.site import Corridor, Pad, Site
from airspace.transit import transit_entry

MIN_INSET_M = 8.0
MAX_INSET_M = 80.0
INSET_FRACTION = 0.35
"""Share of a polygon's mean half-width (2 area / perimeter) kept as a margin."""
HOVER_ALT_AGL_M = 10.0
"""Height of the hover test flown for a booking with a pad and no corridor."""
HOVER_TIME_S = 60.0


@dataclass(frozen=True)
class Waypoint:
    """A point to fly to (site metres, metres AMSL)."""

    x_m: float
    y_m: float
    alt_m: float
    in_corridor: bool
    """True when the leg that ends here runs along the corridor."""
    hold_s: float = 0.0
    """Seconds to hover here before the next leg."""


@dataclass(frozen=True)
class FlightPlan:
    """Where a drone takes off, what it flies, and where it lands."""

    corridor_id: str | None
    takeoff_xy: tuple[float, float]
    landing_xy: tuple[float, float]
    ground_alt_m: float
    """The pads' altitude, metres AMSL (the site's ground elevation)."""
    cruise_alt_m: float
    waypoints: tuple[Waypoint, ...]

    @property
    def corridor_length_m(self) -> float:
        """Return the horizontal length flown along the corridor."""
        total = 0.0
        for a, b in zip(self.waypoints, self.waypoints[1:], strict=False):
            if b.in_corridor:
                total += math.hypot(b.x_m - a.x_m, b.y_m - a.y_m)
        return total


def pad_xy(pad: Pad) -> tuple[float, float]:
    """Return the pad's centre in site metres."""
    centre = pad.geometry_m.centroid
    return float(centre.x), float(centre.y)


def cruise_alt_m(corridor: Corridor) -> float:
    """Return the middle of the corridor's band, metres AMSL."""
    return (corridor.volume.floor_amsl_m + corridor.volume.ceiling_amsl_m) / 2.0


def nearest_pad(site: Site, corridor: Corridor) -> Pad:
    """Return the pad closest to the corridor's outline.

    Among pads inside (or equally near) the outline, the one nearest an end of a
    centre line wins, so a route starts where its corridor starts.
    """
    if not site.pads:
        raise ValueError(f"site {site.id} has no pads to take off from")
    outline = corridor.volume.outline
    anchor: Point | shapely.MultiPoint = outline.centroid
    if isinstance(corridor.geometry_lonlat, LineString):
        line = site.projection.geometry_to_metric(corridor.geometry_lonlat)
        anchor = shapely.MultiPoint([line.coords[0], line.coords[-1]])

    def key(pad: Pad) -> tuple[float, float]:
        return round(outline.distance(pad.geometry_m), 1), anchor.distance(
            pad.geometry_m
        )

    return min(site.pads, key=key)


def corridor_path(
    site: Site, corridor: Corridor, start_xy: tuple[float, float], laps: int
) -> list[tuple[float, float]]:
    """Return the corridor's route in site metres, starting nearest ``start_xy``."""
    if laps < 1:
        raise ValueError(f"laps must be >= 1, got {laps}")
    start = Point(start_xy)
    if isinstance(corridor.geometry_lonlat, LineString):
        line = site.projection.geometry_to_metric(corridor.geometry_lonlat)
        coords = [(float(x), float(y)) for x, y, *_ in line.coords]
        if start.distance(Point(coords[-1])) < start.distance(Point(coords[0])):
            coords.reverse()
        out_and_back = coords + coords[-2::-1]
        path = out_and_back[:]
        for _ in range(laps - 1):
            path += out_and_back[1:]
        return path
    ring = _inset_ring(corridor.volume.outline)
    first = min(range(len(ring)), key=lambda i: start.distance(Point(ring[i])))
    ring = ring[first:] + ring[:first]
    return ring * laps + [ring[0]]


def _inset_ring(outline: Polygon) -> list[tuple[float, float]]:
    """Return the vertices (not closed) of ``outline`` shrunk by a safe margin."""
    mean_half_width = 2.0 * outline.area / outline.length
    inset = min(max(INSET_FRACTION * mean_half_width, MIN_INSET_M), MAX_INSET_M)
    while inset >= 0.5:
        shrunk = shapely.buffer(outline, -inset, join_style="mitre")
        if not shrunk.is_empty:
            if not isinstance(shrunk, Polygon):
                shrunk = max(shrunk.geoms, key=lambda g: g.area)
            ring = shrunk.exterior.simplify(0.5)
            coords = [(float(x), float(y)) for x, y, *_ in ring.coords][:-1]
            if len(coords) >= 3:
                return coords
        inset /= 2.0
    centre = outline.representative_point()
    return [(float(centre.x), float(centre.y))]


def plan_flight(
    site: Site,
    corridor: Corridor,
    takeoff_pad: Pad,
    landing_pad: Pad | None = None,
    laps: int = 1,
) -> FlightPlan:
    """Return the plan that flies ``corridor`` from ``takeoff_pad``.

    Climb at the pad to the band's middle, fly the booking's transit straight into
    the corridor (``airspace.transit``: the airspace a booking holds between pad and
    corridor), join the route along the centre line, fly it ``laps`` times, and come
    back the same way to land on ``landing_pad`` (default: the take-off pad).
    """
    landing = landing_pad or takeoff_pad
    takeoff_xy = pad_xy(takeoff_pad)
    landing_xy = pad_xy(landing)
    alt = cruise_alt_m(corridor)
    entry = transit_entry(takeoff_pad, corridor)
    path = corridor_path(site, corridor, (entry.x, entry.y), laps)
    exit_ = transit_entry(landing, corridor)
    approach = [(entry.x, entry.y), *_along_centre(site, corridor, entry, path[0])]
    departure = [*_along_centre(site, corridor, Point(path[-1]), (exit_.x, exit_.y))]
    departure.append((exit_.x, exit_.y))
    waypoints = [Waypoint(x, y, alt, in_corridor=False) for x, y in approach]
    waypoints += [Waypoint(x, y, alt, in_corridor=True) for x, y in path[1:]]
    waypoints += [Waypoint(x, y, alt, in_corridor=False) for x, y in departure]
    waypoints.append(Waypoint(*landing_xy, alt, in_corridor=False))
    return FlightPlan(
        corridor_id=corridor.id,
        takeoff_xy=takeoff_xy,
        landing_xy=landing_xy,
        ground_alt_m=site.ground_elev_m,
        cruise_alt_m=alt,
        waypoints=tuple(waypoints),
    )


def _along_centre(
    site: Site, corridor: Corridor, frm: Point, to_xy: tuple[float, float]
) -> list[tuple[float, float]]:
    """Points along a centre-line corridor from ``frm`` to ``to_xy`` (both
    projected on the line), so joining the route never cuts across a bend.
    Polygon corridors are joined straight: just ``to_xy``."""
    if not isinstance(corridor.geometry_lonlat, LineString):
        return [to_xy]
    line = site.projection.geometry_to_metric(corridor.geometry_lonlat)
    start, end = line.project(frm), line.project(Point(to_xy))
    part = substring(line, start, end)
    coords = [(float(x), float(y)) for x, y, *_ in part.coords]
    return [*coords, to_xy]


def plan_hover(
    site: Site,
    pad: Pad,
    alt_agl_m: float = HOVER_ALT_AGL_M,
    hold_s: float = HOVER_TIME_S,
) -> FlightPlan:
    """Return a hover test over ``pad`` (a booking of a pad without a corridor)."""
    x, y = pad_xy(pad)
    alt = site.ground_elev_m + alt_agl_m
    return FlightPlan(
        corridor_id=None,
        takeoff_xy=(x, y),
        landing_xy=(x, y),
        ground_alt_m=site.ground_elev_m,
        cruise_alt_m=alt,
        waypoints=(Waypoint(x, y, alt, in_corridor=False, hold_s=hold_s),),
    )
