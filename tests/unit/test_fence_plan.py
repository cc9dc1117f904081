"""The fence a booking becomes: within the vertex budget, on the safe side.

The property the issue asks for, over random corridors, transits and no-fly zones:
the uploaded inclusion lies within the booked outline grown by the tolerance,
covers it shrunk by the tolerance, and the fence never admits an exclusion zone.
"""

from __future__ import annotations

import pytest
import shapely
from hypothesis import HealthCheck, given, settings, strategies as st
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from airspace import demo_site_path, load_site
from airspace.booked_volume import booked_outline, booked_volumes
from airspace.errors import FenceTooComplex
from airspace.fence_plan import MAX_FENCE_ITEMS, TOLERANCE_M, fence_lonlat, plan_fence
from airspace.volume import Volume

SITE = load_site(demo_site_path())
_REF = SITE.projection.geometry_to_metric(Point(SITE.ref_lon_deg, SITE.ref_lat_deg))
X0, Y0 = _REF.x, _REF.y

coords = st.tuples(st.floats(-800, 800), st.floats(-800, 800))


@st.composite
def booked_airspace(draw: st.DrawFn) -> tuple[list[Volume], list[Volume]]:
    """A random centre-line corridor with capsule transits, and no-fly zones."""
    points = draw(st.lists(coords, min_size=2, max_size=6, unique=True))
    line = LineString([(X0 + x, Y0 + y) for x, y in points])
    if line.length < 1:
        points = [(0.0, 0.0), (300.0, 0.0)]
        line = LineString([(X0 + x, Y0 + y) for x, y in points])
    half_width = draw(st.floats(10, 60))
    volumes = [Volume(line.buffer(half_width), 20, 90)]
    for _ in range(draw(st.integers(0, 2))):
        px, py = draw(coords)
        pad = Point(X0 + px, Y0 + py)
        entry = line.interpolate(line.project(pad))
        capsule = (
            LineString([pad, entry]).buffer(25)
            if pad.distance(entry)
            else pad.buffer(25)
        )
        volumes.append(Volume(capsule, 0, 90))
    zones = []
    for _ in range(draw(st.integers(0, 3))):
        zx, zy = draw(coords)
        radius = draw(st.floats(5, 80))
        square = draw(st.booleans())
        centre = Point(X0 + zx, Y0 + zy)
        outline = centre.buffer(radius, cap_style="square" if square else "round")
        zones.append(Volume(outline, 0, 120))
    return volumes, zones


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(booked_airspace())
def test_uploaded_fence_hugs_the_booked_outline_and_never_admits_an_exclusion(
    airspace: tuple[list[Volume], list[Volume]],
) -> None:
    volumes, zones = airspace
    outline = shapely.union_all([v.outline for v in volumes])
    assert isinstance(outline, Polygon | MultiPolygon)
    try:
        plan = plan_fence(SITE, outline, volumes, zones)
    except FenceTooComplex:
        return  # refused is safe: the booking shows "refused", nothing is uploaded
    assert plan.vertex_count <= MAX_FENCE_ITEMS
    assert plan.inclusion.within(outline.buffer(TOLERANCE_M))
    assert plan.inclusion.covers(outline.buffer(-TOLERANCE_M))
    admitted = plan.inclusion.difference(shapely.union_all(list(plan.exclusions)))
    for zone in zones:
        assert admitted.intersection(zone.outline).area < 1e-6


def test_the_demo_corridor_and_transits_fit_the_budget_within_a_metre() -> None:
    volumes = booked_volumes(SITE, "C2", ("P1", "P4"))
    outline = booked_outline(SITE, "C2", ("P1", "P4"))
    raw = len(shapely.get_coordinates(outline))
    plan = plan_fence(SITE, outline, volumes)
    assert plan.vertex_count <= MAX_FENCE_ITEMS < raw
    assert plan.alt_max_m == pytest.approx(
        SITE.corridor("C2").volume.ceiling_amsl_m - SITE.ground_elev_m
    )


def test_an_outline_too_wiggly_for_the_budget_is_refused_with_the_reason() -> None:
    zigzag = LineString([(X0 + 10 * i, Y0 + (40 if i % 2 else 0)) for i in range(80)])
    outline = zigzag.buffer(3)
    assert isinstance(outline, Polygon)
    with pytest.raises(FenceTooComplex, match="more than"):
        plan_fence(SITE, outline, [Volume(outline, 0, 50)], [])


def test_fence_in_lon_lat_is_clockwise_unclosed_inclusion_first() -> None:
    site = SITE
    volumes = booked_volumes(site, "C1", ("P1",))
    plan = plan_fence(site, booked_outline(site, "C1", ("P1",)), volumes)
    rings = fence_lonlat(site, plan)
    assert rings[0].inclusion
    assert not any(r.inclusion for r in rings[1:])
    first = rings[0].vertices_lonlat
    assert first[0] != first[-1]
    assert not Polygon(first).exterior.is_ccw
