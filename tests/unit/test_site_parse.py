"""parse_site and site_to_features on in-memory features (no files)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, strategies as st
from shapely.geometry import LineString, Point, Polygon

from airspace.errors import SiteValidationError
from airspace.site import GeofenceKind, Site
from airspace.site_features import site_to_feature_collection, site_to_features
from airspace.site_parse import (
    CENTRE_LINE_QUAD_SEGS,
    UNLIMITED_CEILING_AMSL_M,
    UNLIMITED_FLOOR_AMSL_M,
    centre_line_outline,
    parse_site,
)
from airspace.volume import AltitudeRef

Feature = dict[str, Any]
Mutation = Callable[[list[Feature]], list[Feature]]

REF_LON, REF_LAT = 114.1289, 22.2606


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> Polygon:
    return Polygon([(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1)])


def feature(geometry: object, **properties: object) -> Feature:
    return {"geometry": geometry, "properties": properties}


def valid_features() -> list[Feature]:
    """A small sound site next to the Cyberport pier, one feature of each shape."""
    return [
        feature(
            Point(REF_LON, REF_LAT),
            kind="site",
            id="S",
            name="Test pier",
            crs="EPSG:2326",
            ground_elev_m=5.0,
        ),
        feature(
            Point(114.1290, 22.2607),
            kind="pad",
            id="P1",
            name="Pad 1",
            charger=True,
            max_takeoff_mass_kg=25.0,
            turnaround_min=5.0,
        ),
        feature(
            box(114.12920, 22.26070, 114.12929, 22.26079),
            kind="pad",
            id="P2",
            name="Pad 2",
            charger=False,
            max_takeoff_mass_kg=7.0,
            turnaround_min=0.0,
        ),
        feature(
            box(114.1260, 22.2610, 114.1275, 22.2620),
            kind="corridor",
            id="C1",
            name="Test loop",
            floor_m=20.0,
            ceiling_m=60.0,
            alt_ref="AGL",
            capacity=3,
            over_water=True,
        ),
        feature(
            LineString([(114.1284, 22.2603), (114.1250, 22.2580), (114.1200, 22.2550)]),
            kind="corridor",
            id="C2",
            name="Route",
            floor_m=30.0,
            ceiling_m=90.0,
            capacity=2,
            over_water=True,
            half_width_m=50.0,
            over_water_segments="1",
        ),
        feature(
            box(114.1320, 22.2565, 114.1345, 22.2585),
            kind="exclusion",
            id="X1",
            name="Residential block",
        ),
        # The route crosses this fairway laterally, but above its band.
        feature(
            box(114.1210, 22.2540, 114.1230, 22.2600),
            kind="exclusion",
            id="X2",
            name="Fairway",
            floor_m=0.0,
            ceiling_m=30.0,
            alt_ref="AMSL",
        ),
        feature(
            box(114.1150, 22.2500, 114.1400, 22.2650),
            kind="boundary",
            id="B1",
            name="Boundary",
        ),
    ]


def by_id(features: list[Feature], feature_id: str) -> Feature:
    return next(f for f in features if f["properties"].get("id") == feature_id)


def set_props(feature_id: str, **properties: object) -> Mutation:
    def mutate(features: list[Feature]) -> list[Feature]:
        by_id(features, feature_id)["properties"].update(properties)
        return features

    return mutate


def drop_props(feature_id: str, *keys: str) -> Mutation:
    def mutate(features: list[Feature]) -> list[Feature]:
        for key in keys:
            del by_id(features, feature_id)["properties"][key]
        return features

    return mutate


def set_geometry(feature_id: str, geometry: object) -> Mutation:
    def mutate(features: list[Feature]) -> list[Feature]:
        by_id(features, feature_id)["geometry"] = geometry
        return features

    return mutate


def add(new: Feature) -> Mutation:
    return lambda features: [*features, new]


def remove(feature_id: str) -> Mutation:
    return lambda features: [f for f in features if f["properties"]["id"] != feature_id]


def problems_of(features: list[Feature]) -> list[str]:
    with pytest.raises(SiteValidationError) as caught:
        parse_site(features)
    return [str(problem) for problem in caught.value.problems]


def test_parses_a_sound_site_into_pads_corridors_and_geofences() -> None:
    site = parse_site(valid_features())

    assert (site.id, site.name, site.metric_crs) == ("S", "Test pier", "EPSG:2326")
    assert [p.id for p in site.pads] == ["P1", "P2"]
    assert [c.id for c in site.corridors] == ["C1", "C2"]
    assert [e.id for e in site.exclusions] == ["X1", "X2"]
    assert site.boundary is not None
    assert site.boundary.id == "B1"


def test_applies_the_documented_defaults() -> None:
    site = parse_site(valid_features())

    assert site.max_alt_agl_m == 90
    assert site.timezone == "UTC"
    assert site.description == ""
    assert site.corridor("C2").band.ref is AltitudeRef.AGL


def test_converts_agl_bands_to_amsl_volumes_with_the_ground_elevation() -> None:
    site = parse_site(valid_features())

    route = site.corridor("C2").volume
    assert (route.floor_amsl_m, route.ceiling_amsl_m) == (35.0, 95.0)
    fairway = next(e for e in site.exclusions if e.id == "X2").volume
    assert (fairway.floor_amsl_m, fairway.ceiling_amsl_m) == (0.0, 30.0)


def test_gives_an_exclusion_without_band_an_unlimited_volume() -> None:
    site = parse_site(valid_features())

    block = next(e for e in site.exclusions if e.id == "X1")
    assert block.band is None
    assert block.volume.floor_amsl_m == UNLIMITED_FLOOR_AMSL_M
    assert block.volume.ceiling_amsl_m == UNLIMITED_CEILING_AMSL_M


def test_gives_the_boundary_a_volume_up_to_the_site_limit() -> None:
    site = parse_site(valid_features())

    assert site.boundary is not None
    assert site.boundary.volume.floor_amsl_m == UNLIMITED_FLOOR_AMSL_M
    assert site.boundary.volume.ceiling_amsl_m == 5.0 + 90.0


def test_buffers_a_centre_line_in_the_site_metric_crs() -> None:
    site = parse_site(valid_features())
    route = site.corridor("C2")

    line_m = site.projection.geometry_to_metric(route.geometry_lonlat)
    assert isinstance(line_m, LineString)
    assert route.volume.outline.equals(centre_line_outline(line_m, 50.0))
    # Round caps: the outline reaches half a width beyond the line's ends.
    assert route.volume.outline.area == pytest.approx(
        line_m.length * 100 + math.pi * 50**2, rel=1e-2
    )


def test_keeps_a_polygon_corridor_outline_as_drawn() -> None:
    site = parse_site(valid_features())
    loop = site.corridor("C1")

    assert loop.half_width_m is None
    assert loop.over_water_segments == ()
    assert loop.volume.outline.equals(
        site.projection.geometry_to_metric(loop.geometry_lonlat)
    )


def test_resolves_auto_crs_to_the_utm_zone_of_the_reference_point() -> None:
    site = parse_site(set_props("S", crs="auto")(valid_features()))

    assert site.crs == "auto"
    assert site.metric_crs == "EPSG:32650"


def test_rounds_lon_lat_to_nine_decimals_and_drops_z() -> None:
    features = set_geometry("P1", Point(114.12900000004, 22.260700000049, 12.0))(
        valid_features()
    )

    pad = parse_site(features).pad("P1")

    assert not pad.geometry_lonlat.has_z
    assert shapely.get_coordinates(pad.geometry_lonlat).tolist() == [[114.129, 22.2607]]


def test_reads_kml_style_text_values() -> None:
    features = set_props(
        "C2", capacity="2", over_water="true", half_width_m="50", floor_m="30"
    )(valid_features())

    route = parse_site(features).corridor("C2")

    assert (route.capacity, route.over_water, route.half_width_m) == (2, True, 50.0)
    assert route.band.floor_m == 30.0


def test_reads_geopackage_style_numbers_and_gaps() -> None:
    features = set_props(
        "C1",
        capacity=np.float64(3.0),
        over_water=1.0,
        half_width_m=math.nan,
        over_water_segments="",
        charger=None,
    )(valid_features())

    loop = parse_site(features).corridor("C1")

    assert (loop.capacity, loop.over_water, loop.half_width_m) == (3, True, None)


def test_accepts_over_water_segments_as_a_list_and_sorts_them() -> None:
    features = set_props("C2", over_water_segments=[1, 0])(valid_features())

    assert parse_site(features).corridor("C2").over_water_segments == (0, 1)


def test_allows_a_corridor_to_pass_over_an_exclusion_band() -> None:
    site = parse_site(valid_features())

    fairway = next(e for e in site.exclusions if e.id == "X2")
    route = site.corridor("C2")
    assert route.volume.outline.intersects(fairway.volume.outline)


def test_collects_every_problem_before_raising() -> None:
    features = set_props("C1", capacity="two")(valid_features())
    features = set_props("P1", charger="maybe")(features)

    problems = problems_of(features)

    assert problems == [
        "pad P1: charger must be true or false, got 'maybe'",
        "corridor C1: capacity must be an integer >= 1, got 'two'",
    ]


BOW_TIE = Polygon(
    [(114.13, 22.26), (114.131, 22.261), (114.131, 22.26), (114.13, 22.261)]
)

ERROR_CASES = [
    pytest.param(
        add(feature(Point(REF_LON, REF_LAT), kind="helipad", id="H1", name="H")),
        "feature H1: unknown kind 'helipad' (expected one of site, pad, corridor, "
        "exclusion, boundary)",
        id="unknown-kind",
    ),
    pytest.param(
        drop_props("P1", "kind"),
        "feature #2: missing required property kind",
        id="missing-kind",
    ),
    pytest.param(
        drop_props("P1", "id"), "pad #2: missing required property id", id="missing-id"
    ),
    pytest.param(
        set_props("P1", id="pad 1"),
        "pad pad 1: id must be letters, digits, '-', '_' or '.', starting with a "
        "letter or digit",
        id="id-with-spaces",
    ),
    pytest.param(
        set_props("P1", id="P&1"),
        "pad P&1: id must be letters",
        id="id-with-markup",
    ),
    pytest.param(
        set_props("P2", id="P1"),
        "pad P1: duplicate id (feature #2 has it too)",
        id="duplicate-id",
    ),
    pytest.param(
        drop_props("C1", "capacity"),
        "corridor C1: missing required property capacity",
        id="missing-required-property",
    ),
    pytest.param(
        drop_props("P1", "name"),
        "pad P1: missing required property name",
        id="missing-name",
    ),
    pytest.param(
        set_props("C1", capacity="two"),
        "corridor C1: capacity must be an integer >= 1, got 'two'",
        id="capacity-not-a-number",
    ),
    pytest.param(
        set_props("C1", capacity=0),
        "corridor C1: capacity must be an integer >= 1, got 0",
        id="capacity-zero",
    ),
    pytest.param(
        set_props("C1", capacity=2.5),
        "corridor C1: capacity must be an integer >= 1, got 2.5",
        id="capacity-fractional",
    ),
    pytest.param(
        set_props("C1", capacity=True),
        "corridor C1: capacity must be an integer >= 1, got True",
        id="capacity-boolean",
    ),
    pytest.param(
        set_props("P1", charger="maybe"),
        "pad P1: charger must be true or false, got 'maybe'",
        id="charger-not-a-boolean",
    ),
    pytest.param(
        set_props("P1", max_takeoff_mass_kg=-1),
        "pad P1: max_takeoff_mass_kg must be a number > 0, got -1",
        id="mass-negative",
    ),
    pytest.param(
        set_props("P1", turnaround_min=-5.0),
        "pad P1: turnaround_min must be a number >= 0, got -5.0",
        id="turnaround-negative",
    ),
    pytest.param(
        set_props("C1", floor_m="low"),
        "corridor C1: floor_m must be a number, got 'low'",
        id="floor-not-a-number",
    ),
    pytest.param(
        set_props("C1", ceiling_m=math.inf),
        "corridor C1: ceiling_m must be a number, got inf",
        id="ceiling-infinite",
    ),
    pytest.param(
        set_props("C1", alt_ref="MSL"),
        "corridor C1: alt_ref must be AGL or AMSL, got 'MSL'",
        id="unknown-altitude-reference",
    ),
    pytest.param(
        set_geometry("X1", LineString([(114.13, 22.26), (114.131, 22.261)])),
        "exclusion X1: geometry must be a Polygon, got LineString",
        id="exclusion-as-line",
    ),
    pytest.param(
        set_geometry("P1", LineString([(114.13, 22.26), (114.131, 22.261)])),
        "pad P1: geometry must be a Point or Polygon, got LineString",
        id="pad-as-line",
    ),
    pytest.param(
        set_geometry("S", box(114.12, 22.26, 114.13, 22.27)),
        "site S: geometry must be a Point, got Polygon",
        id="site-as-polygon",
    ),
    pytest.param(
        set_geometry("X1", None), "exclusion X1: has no geometry", id="no-geometry"
    ),
    pytest.param(
        set_geometry("X1", Polygon()),
        "exclusion X1: geometry is empty",
        id="empty-geometry",
    ),
    pytest.param(
        set_geometry("X1", BOW_TIE),
        "exclusion X1: invalid polygon: Self-intersection[114.1305 22.2605]",
        id="self-intersecting-polygon",
    ),
    pytest.param(
        set_geometry("C2", LineString([(114.13, 22.26), (114.13, 22.26)])),
        "corridor C2: invalid geometry: Too few points",
        id="centre-line-of-one-point",
    ),
    pytest.param(
        set_geometry("P1", Point(200.0, 22.26)),
        "pad P1: coordinates out of range: lon must be within [-180, 180] and lat "
        "within [-90, 90]",
        id="longitude-out-of-range",
    ),
    pytest.param(
        set_geometry("P1", Point(math.nan, 22.26)),
        "pad P1: coordinates must be finite numbers",
        id="coordinate-not-a-number",
    ),
    pytest.param(
        set_geometry("P1", Point(REF_LAT, REF_LON)),
        "pad P1: coordinates out of range: lon must be within [-180, 180] and lat "
        "within [-90, 90] (looks like lat/lon are swapped)",
        id="swapped-out-of-range",
    ),
    pytest.param(
        set_geometry("P1", Point(115.5, 22.26)),
        "pad P1: is 141 km from the reference point (at most 100 km allowed)",
        id="far-from-reference-point",
    ),
    pytest.param(
        set_props("C1", floor_m=60.0, ceiling_m=40.0),
        "corridor C1: floor 60 m is not below ceiling 40 m",
        id="floor-above-ceiling",
    ),
    pytest.param(
        set_props("C1", floor_m=60.0, ceiling_m=60.0),
        "corridor C1: floor 60 m is not below ceiling 60 m",
        id="floor-equal-to-ceiling",
    ),
    pytest.param(
        set_props("C1", ceiling_m=120.0),
        "corridor C1: ceiling 120 m AGL is above the site limit of 90 m AGL",
        id="agl-ceiling-above-site-limit",
    ),
    pytest.param(
        set_props("C1", ceiling_m=100.0, alt_ref="AMSL"),
        "corridor C1: ceiling 100 m AMSL (95 m AGL) is above the site limit of "
        "90 m AGL",
        id="amsl-ceiling-above-site-limit",
    ),
    pytest.param(
        set_props("S", max_alt_agl_m=50.0),
        "corridor C1: ceiling 60 m AGL is above the site limit of 50 m AGL",
        id="ceiling-above-lowered-site-limit",
    ),
    pytest.param(
        set_props("S", max_alt_agl_m=0),
        "site S: max_alt_agl_m must be a number > 0, got 0",
        id="site-limit-zero",
    ),
    pytest.param(
        set_props("S", crs="EPSG:999999"),
        "site S: unknown CRS 'EPSG:999999'",
        id="unknown-crs",
    ),
    pytest.param(
        set_props("S", crs="EPSG:4326"),
        "site S: CRS 'EPSG:4326' is not projected",
        id="geographic-crs",
    ),
    pytest.param(
        set_props("S", timezone="Mars/Olympus_Mons"),
        "site S: unknown timezone 'Mars/Olympus_Mons'",
        id="unknown-timezone",
    ),
    pytest.param(
        remove("S"),
        "site: no site feature: exactly one needs kind 'site'",
        id="no-site-feature",
    ),
    pytest.param(
        add(feature(Point(REF_LON, REF_LAT), kind="site", id="S2", name="Again")),
        "site: 2 site features (S, S2); need one",
        id="two-site-features",
    ),
    pytest.param(
        add(feature(box(114.12, 22.25, 114.14, 22.27), kind="boundary", id="B2")),
        "boundary: 2 boundaries (B1, B2); at most one allowed",
        id="two-boundaries",
    ),
    pytest.param(
        drop_props("C2", "half_width_m"),
        "corridor C2: a centre-line corridor needs half_width_m > 0",
        id="centre-line-without-half-width",
    ),
    pytest.param(
        set_props("C2", half_width_m=0),
        "corridor C2: half_width_m must be a number > 0, got 0",
        id="half-width-zero",
    ),
    pytest.param(
        set_props("C1", half_width_m=50.0),
        "corridor C1: half_width_m is only for centre-line (LineString) corridors",
        id="half-width-on-polygon",
    ),
    pytest.param(
        set_props("C2", over_water_segments="0,5"),
        "corridor C2: over_water_segments index 5 is out of range: the centre line "
        "has 2 segments (0-1)",
        id="segment-index-out-of-range",
    ),
    pytest.param(
        set_props("C2", over_water_segments="first,second"),
        "corridor C2: over_water_segments must be comma-separated segment indexes "
        "like '0,2', got 'first,second'",
        id="segment-indexes-not-numbers",
    ),
    pytest.param(
        set_props("C1", over_water_segments="0"),
        "corridor C1: over_water_segments is only for centre-line (LineString) "
        "corridors",
        id="segments-on-polygon",
    ),
    pytest.param(
        set_props("C2", over_water=False),
        "corridor C2: over_water_segments are given but over_water is false",
        id="segments-but-not-over-water",
    ),
    pytest.param(
        drop_props("X2", "floor_m"),
        "exclusion X2: give both floor_m and ceiling_m, or neither (ground up, "
        "unlimited)",
        id="exclusion-with-ceiling-only",
    ),
    pytest.param(
        set_props("X2", ceiling_m=50.0),
        "corridor C2: crosses exclusion zone X2 within its band",
        id="corridor-crosses-exclusion",
    ),
    pytest.param(
        set_geometry("B1", box(114.1240, 22.2500, 114.1400, 22.2650)),
        "corridor C2: leaves the site boundary B1 by",
        id="corridor-leaves-boundary",
    ),
    pytest.param(
        set_geometry("P1", Point(114.1330, 22.2575)),
        "pad P1: lies in exclusion zone X1",
        id="pad-in-exclusion",
    ),
    pytest.param(
        set_geometry("P1", Point(114.1420, 22.2575)),
        "pad P1: is outside boundary B1",
        id="pad-outside-boundary",
    ),
    pytest.param(
        set_geometry("P2", box(114.1292, 22.2607, 114.1302, 22.2617)),
        "pad P2: pad polygon covers",
        id="pad-polygon-too-large",
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), ERROR_CASES)
def test_rejects_a_broken_feature_with_a_precise_problem(
    mutation: Mutation, expected: str
) -> None:
    problems = problems_of(mutation(valid_features()))

    assert any(problem.startswith(expected) for problem in problems), problems


def test_rejects_a_feature_whose_lat_lon_are_swapped_within_range() -> None:
    # Near Zurich both orders are valid coordinates, so only distance can tell.
    features = [
        feature(
            Point(8.5417, 47.3769),
            kind="site",
            id="S",
            name="Zurich",
            crs="auto",
            ground_elev_m=400,
        ),
        feature(
            Point(47.3770, 8.5418),
            kind="pad",
            id="P1",
            name="Pad",
            charger=False,
            max_takeoff_mass_kg=5,
            turnaround_min=5,
        ),
    ]

    problems = problems_of(features)

    assert len(problems) == 1
    assert problems[0].startswith("pad P1: is ")
    assert problems[0].endswith(
        "km from the reference point; looks like lat/lon are swapped"
    )


def test_site_to_features_gives_back_an_equal_site() -> None:
    site = parse_site(valid_features())

    assert parse_site(site_to_features(site)) == site


def test_site_to_features_omits_properties_a_feature_does_not_have() -> None:
    features = site_to_features(parse_site(valid_features()))

    block = by_id(features, "X1")["properties"]
    loop = by_id(features, "C1")["properties"]
    assert block == {"kind": "exclusion", "id": "X1", "name": "Residential block"}
    assert "half_width_m" not in loop
    assert "over_water_segments" not in loop
    assert by_id(features, "C2")["properties"]["over_water_segments"] == "1"


def test_feature_collection_is_plain_json() -> None:
    site = parse_site(valid_features())

    collection = json.loads(json.dumps(site_to_feature_collection(site)))

    assert collection["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in collection["features"]]
    assert kinds == [
        "site",
        "pad",
        "pad",
        "corridor",
        "corridor",
        "exclusion",
        "exclusion",
        "boundary",
    ]
    route = collection["features"][4]
    assert route["geometry"]["type"] == "LineString"
    assert route["properties"]["alt_ref"] == "AGL"
    assert route["geometry"]["coordinates"][0] == [114.1284, 22.2603]


def test_site_geofences_keep_their_kinds() -> None:
    site: Site = parse_site(valid_features())

    assert [g.kind for g in site.geofences] == [
        GeofenceKind.EXCLUSION,
        GeofenceKind.EXCLUSION,
        GeofenceKind.BOUNDARY,
    ]


# Every outline vertex lies on the exact buffer, so the chords cut inside it by at
# most the sagitta of one arc step (a quarter circle in CENTRE_LINE_QUAD_SEGS steps).
SAGITTA_PER_METRE = 1 - math.cos(math.pi / (4 * CENTRE_LINE_QUAD_SEGS))
TOLERANCE_M = 1e-6
# Millimetre steps, as real coordinates come: GEOS raises floating-point warnings on
# differences near 1e-300 m, which no projected lon/lat ever produces.
metres = st.integers(min_value=-1_000_000, max_value=1_000_000).map(lambda mm: mm / 1e3)


@given(
    vertices=st.lists(st.tuples(metres, metres), min_size=2, max_size=6),
    half_width_m=st.floats(min_value=1, max_value=200),
    along=st.floats(min_value=0, max_value=1),
    bearing_rad=st.floats(min_value=0, max_value=2 * math.pi),
    offset_widths=st.floats(min_value=0, max_value=2),
)
def test_centre_line_outline_holds_points_near_the_line_and_no_farther(
    vertices: list[tuple[float, float]],
    half_width_m: float,
    along: float,
    bearing_rad: float,
    offset_widths: float,
) -> None:
    line = LineString(vertices)
    assume(line.length > 1)
    outline = centre_line_outline(line, half_width_m)
    base = line.interpolate(along, normalized=True)
    offset_m = offset_widths * half_width_m
    point = Point(
        base.x + offset_m * math.cos(bearing_rad),
        base.y + offset_m * math.sin(bearing_rad),
    )
    distance_m = line.distance(point)  # exact: the nearest segment, in metres

    if distance_m <= half_width_m * (1 - SAGITTA_PER_METRE) - TOLERANCE_M:
        assert outline.covers(point)
    elif distance_m > half_width_m + TOLERANCE_M:
        assert not outline.covers(point)


def test_centre_line_outline_keeps_all_of_a_line_that_doubles_back() -> None:
    # GEOS's whole-line buffer loses about 7 % of this corridor (see the docstring).
    line = LineString([(1, 0), (0, 0), (2, 0), (-497, 1), (1, 0)])

    outline = centre_line_outline(line, 50.0)

    assert outline.covers(line)
    exact_area_m2 = 499 * 100 + math.pi * 50**2
    assert outline.area == pytest.approx(exact_area_m2, rel=1e-3)


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("1", True), (0, False)])
def test_reads_require_signing_from_the_site_feature_and_writes_it_back(
    value: object, expected: bool
) -> None:
    features = valid_features()
    site_feature = next(f for f in features if f["properties"]["kind"] == "site")
    site_feature["properties"]["require_signing"] = value

    site = parse_site(features)

    assert site.require_signing is expected
    assert parse_site(site_to_features(site)).require_signing is expected


def test_require_signing_defaults_to_false_and_refuses_other_words() -> None:
    assert parse_site(valid_features()).require_signing is False
    features = valid_features()
    site_feature = next(f for f in features if f["properties"]["kind"] == "site")
    site_feature["properties"]["require_signing"] = "maybe"

    assert any(
        "require_signing must be true or false" in p for p in problems_of(features)
    )
