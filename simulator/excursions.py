"""Where a scenario sends a drone out of its corridor, so it breaks one rule only.

A lateral drift should raise ``corridor_exit_lateral`` and nothing worse: the point
it drifts to lies ``overshoot_m`` beyond the edge of the airspace the drone's booking
holds, inside the site's boundary and clear of every exclusion zone (with
``CLEARANCE_M`` to spare), and the straight drift there crosses no exclusion zone.
The booking holds the corridor *and* the transits between its pads and the corridor
(``airspace.transit``), and SkyBerth counts a drone in a transit as conforming, so a
drift out of the corridor into a transit would breach nothing: the edge that counts
is that of the corridor and the transits together. Of the directions that qualify,
the one that leaves soonest wins; directions are tried every ``STEP_DEG`` clockwise
from north, so the answer is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

from airspace.site import Corridor, GeofenceKind, Site
from airspace.transit import transit_volume

STEP_DEG = 5.0
CLEARANCE_M = 15.0


def drift_target(
    site: Site,
    corridor: Corridor,
    x_m: float,
    y_m: float,
    alt_m: float,
    overshoot_m: float,
    pads_xy: Sequence[tuple[float, float]] = (),
) -> tuple[float, float]:
    """Return the point ``overshoot_m`` outside ``corridor`` to drift to from here.

    ``pads_xy`` are the drone's take-off and landing pads (site metres): the
    transits between them and the corridor count as held airspace too.
    """
    outline = held_outline(site, corridor, alt_m, pads_xy)
    start = Point(x_m, y_m)
    minx, miny, maxx, maxy = outline.bounds
    reach = math.hypot(maxx - minx, maxy - miny) + overshoot_m + 1.0
    best: tuple[float, tuple[float, float]] | None = None
    fallback: tuple[float, tuple[float, float]] | None = None
    for k in range(int(360 / STEP_DEG)):
        angle = math.radians(k * STEP_DEG)
        dx, dy = math.sin(angle), math.cos(angle)
        ray = LineString([(x_m, y_m), (x_m + dx * reach, y_m + dy * reach)])
        crossing = ray.intersection(outline.boundary)
        if crossing.is_empty:
            continue
        exit_m = start.distance(crossing)
        target = (x_m + dx * (exit_m + overshoot_m), y_m + dy * (exit_m + overshoot_m))
        if outline.distance(Point(target)) < overshoot_m * 0.9:
            continue  # the ray re-enters a concave corridor
        if fallback is None or exit_m < fallback[0]:
            fallback = (exit_m, target)
        if _clear(site, (x_m, y_m), target, alt_m) and (
            best is None or exit_m < best[0]
        ):
            best = (exit_m, target)
    chosen = best or fallback
    if chosen is None:
        # Outside already, or a degenerate outline: drift east.
        return x_m + overshoot_m, y_m
    return chosen[1]


def held_outline(
    site: Site,
    corridor: Corridor,
    alt_m: float,
    pads_xy: Sequence[tuple[float, float]] = (),
) -> Polygon:
    """Return the outline a booking of ``corridor`` from these pads holds at
    ``alt_m``: the corridor's, with every pad's transit whose band holds ``alt_m``."""
    outlines = [corridor.volume.outline]
    for pad in site.pads:
        centre = pad.geometry_m.centroid
        if not any(math.dist((centre.x, centre.y), xy) < 1e-3 for xy in pads_xy):
            continue
        volume = transit_volume(site, pad, corridor)
        if volume.floor_amsl_m <= alt_m <= volume.ceiling_amsl_m:
            outlines.append(volume.outline)
    merged = unary_union(outlines)
    # The transit overlaps its corridor by design, so the union is one polygon;
    # should it not be, its hull is a safe (larger) stand-in.
    if isinstance(merged, Polygon):
        return merged
    hull = merged.convex_hull
    return hull if isinstance(hull, Polygon) else corridor.volume.outline


def _clear(
    site: Site, start: tuple[float, float], target: tuple[float, float], alt_m: float
) -> bool:
    """Return True when the drift keeps inside the site and out of exclusions."""
    point = Point(target)
    path = LineString([start, target])
    for fence in site.geofences:
        volume = fence.volume
        in_band = volume.floor_amsl_m < alt_m < volume.ceiling_amsl_m
        if fence.kind is GeofenceKind.BOUNDARY:
            if not in_band or volume.outline.exterior.distance(point) < CLEARANCE_M:
                return False
            if not volume.outline.contains(point):
                return False
        elif in_band and (
            volume.outline.distance(point) < CLEARANCE_M
            or path.intersects(volume.outline)
        ):
            return False
    return True


def bust_altitude_m(corridor: Corridor, overshoot_m: float) -> float:
    """Return the altitude (AMSL) ``overshoot_m`` above the corridor's ceiling."""
    return corridor.volume.ceiling_amsl_m + overshoot_m
