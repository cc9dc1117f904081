"""The airspace a booking holds between its pads and its corridor.

A booked flight takes off from a pad, climbs, flies to its corridor, flies the
corridor, and comes back to land. The corridor alone does not contain the climb
(below the corridor's floor) nor the way from the pier to the corridor's edge, so a
booking's assigned airspace is the corridor plus, for each of its pads, a
*transit volume*: a capsule of ``radius_m`` around the straight line from the pad
to the nearest point of the corridor's outline (continued ``radius_m`` into the
corridor so the two overlap), from below the pad up to the corridor's ceiling. A
pad inside the corridor's outline gets a column above the pad instead. A booking
of a pad with no corridor holds the pad's column up to ``hover_ceiling_agl_m``.

Pilots and the simulator fly the same shape: climb over the pad, head straight for
the corridor, and come back the same way. Pure geometry in site metres.
"""

from __future__ import annotations

from shapely import LineString, Point, Polygon
from shapely.ops import nearest_points

from airspace.site import Corridor, Pad, Site
from airspace.volume import Volume

TRANSIT_RADIUS_M = 25.0
"""Half-width of a transit: a few GNSS errors plus the wind drift of a climb."""
BELOW_PAD_M = 10.0
"""The floor of a transit below the pad: barometric noise on the ground."""
HOVER_CEILING_AGL_M = 30.0
"""Ceiling of the pad column of a pad-only booking (hover tests)."""


def pad_centre(pad: Pad) -> Point:
    """The pad's centre in site metres."""
    return pad.geometry_m.centroid


def transit_entry(
    pad: Pad, corridor: Corridor, radius_m: float = TRANSIT_RADIUS_M
) -> Point:
    """Where a transit from ``pad`` ends in ``corridor``: the nearest point at least
    ``radius_m`` inside the outline (the pad itself when it lies inside)."""
    outline = corridor.volume.outline
    centre = pad_centre(pad)
    if outline.contains(centre):
        return centre
    inner = outline.buffer(-radius_m)
    target = inner if not inner.is_empty else outline
    point: Point = nearest_points(target, centre)[0]
    return point


def transit_volume(
    site: Site, pad: Pad, corridor: Corridor, radius_m: float = TRANSIT_RADIUS_M
) -> Volume:
    """The capsule from ``pad`` into ``corridor``, ground to the corridor's ceiling."""
    centre = pad_centre(pad)
    entry = transit_entry(pad, corridor, radius_m)
    if entry.equals(centre):
        capsule = centre.buffer(radius_m)
    else:
        capsule = LineString([centre, entry]).buffer(radius_m)
    outline = capsule.union(pad.geometry_m.buffer(radius_m))
    if not isinstance(outline, Polygon):  # a pad polygon far larger than radius_m
        outline = outline.convex_hull
    assert isinstance(outline, Polygon)
    return Volume(
        outline, site.ground_elev_m - BELOW_PAD_M, corridor.volume.ceiling_amsl_m
    )


def pad_column(
    site: Site,
    pad: Pad,
    radius_m: float = TRANSIT_RADIUS_M,
    ceiling_agl_m: float = HOVER_CEILING_AGL_M,
) -> Volume:
    """The column above ``pad`` that a pad-only booking holds."""
    outline = pad.geometry_m.buffer(radius_m)
    assert isinstance(outline, Polygon)
    return Volume(
        outline,
        site.ground_elev_m - BELOW_PAD_M,
        site.ground_elev_m + ceiling_agl_m,
    )
