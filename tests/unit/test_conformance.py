"""The conformance engine agrees with a slow per-point Shapely reference."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from hypothesis import given, settings, strategies as st
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon

from airspace.conformance import (
    ConformanceEngine,
    ConformanceResult,
    ConformanceState as S,
    DroneBatch,
    FloatArray,
)
from airspace.projection import SiteProjection
from airspace.volume import Volume

SQUARE = Volume(Polygon([(0, 0), (100, 0), (100, 100), (0, 100)]), 10.0, 60.0)
"""Volume 0: a 100 m square, 10-60 m AMSL."""
HIGH_SQUARE = Volume(Polygon([(0, 0), (100, 0), (100, 100), (0, 100)]), 100.0, 150.0)
"""Volume 1: the same outline, 100-150 m: corridor B stacked above corridor A."""
L_SHAPE = Volume(
    Polygon([(200, 0), (300, 0), (300, 40), (240, 40), (240, 100), (200, 100)]),
    10.0,
    60.0,
)
"""Volume 2: an L with a reflex corner at (240, 40)."""
CORRIDOR = Volume(
    shapely.buffer(LineString([(0, 200), (150, 200), (250, 260)]), 25.0), 20.0, 80.0
)
"""Volume 3: a buffered centre line, 50 m wide."""
VOLUMES = (SQUARE, HIGH_SQUARE, L_SHAPE, CORRIDOR)
ZONE = Volume(Polygon([(60, 60), (80, 60), (80, 80), (60, 80)]), 0.0, 40.0)
"""Exclusion 0: a no-fly box inside the square, up to 40 m."""
BOUNDARY = Volume(Polygon([(-50, -50), (320, -50), (320, 300), (-50, 300)]), 0.0, 200.0)
NEAR_M = 10.0
NEAR_V_M = 5.0
HORIZON_S = 10.0


ENGINE = ConformanceEngine(
    VOLUMES,
    exclusions=[ZONE],
    boundary=BOUNDARY,
    near_edge_m=NEAR_M,
    near_edge_vertical_m=NEAR_V_M,
    horizon_s=HORIZON_S,
)


def batch(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    alt: npt.ArrayLike,
    vi: npt.ArrayLike,
    vn: npt.ArrayLike | None = None,
    ve: npt.ArrayLike | None = None,
    vd: npt.ArrayLike | None = None,
) -> tuple[DroneBatch, FloatArray, FloatArray]:
    n = np.shape(x)[0]
    zeros = np.zeros(n)
    b = DroneBatch(
        drone_id=np.arange(n),
        lon_deg=np.full(n, np.nan),
        lat_deg=np.full(n, np.nan),
        alt_amsl_m=np.asarray(alt, float),
        vn_mps=zeros if vn is None else np.asarray(vn, float),
        ve_mps=zeros if ve is None else np.asarray(ve, float),
        vd_mps=zeros if vd is None else np.asarray(vd, float),
        t_s=np.full(n, 1.7e9),
        volume_index=np.asarray(vi),
    )
    return b, np.asarray(x, float), np.asarray(y, float)


def evaluate_one(
    x: float, y: float, alt: float, vi: int, vn: float = 0, ve: float = 0, vd: float = 0
) -> ConformanceResult:
    b, xs, ys = batch([x], [y], [alt], [vi], [vn], [ve], [vd])
    return ENGINE.evaluate_metric(b, xs, ys)


def reference_state(x: float, y: float, alt: float, vi: int) -> S:
    """The slow reference: one Shapely predicate per point, same precedence."""
    point = Point(x, y)
    if ZONE.outline.contains(point) and ZONE.floor_amsl_m < alt < ZONE.ceiling_amsl_m:
        return S.IN_EXCLUSION
    in_boundary = BOUNDARY.outline.contains(point)
    if not (in_boundary and BOUNDARY.floor_amsl_m < alt < BOUNDARY.ceiling_amsl_m):
        return S.OUTSIDE_BOUNDARY
    if vi < 0:
        return S.UNASSIGNED
    volume = VOLUMES[vi]
    if not volume.outline.contains(point):
        return S.OUTSIDE_LATERAL
    vertical = min(alt - volume.floor_amsl_m, volume.ceiling_amsl_m - alt)
    if not vertical > 0:
        return S.OUTSIDE_VERTICAL
    lateral = volume.outline.boundary.distance(point)
    if lateral <= NEAR_M or vertical <= NEAR_V_M:
        return S.NEAR_EDGE
    return S.INSIDE


@pytest.mark.parametrize(
    ("x", "y", "alt", "vi", "expected"),
    [
        (50, 50, 35, 0, S.INSIDE),
        (95, 50, 35, 0, S.NEAR_EDGE),
        (50, 50, 57, 0, S.NEAR_EDGE),
        (50, 50, 12, 0, S.NEAR_EDGE),
        (105, 50, 35, 0, S.OUTSIDE_LATERAL),
        (105, 50, 180, 0, S.OUTSIDE_LATERAL),
        (100, 50, 35, 0, S.OUTSIDE_LATERAL),
        (50, 50, 70, 0, S.OUTSIDE_VERTICAL),
        (50, 50, 60, 0, S.OUTSIDE_VERTICAL),
        (50, 50, 35, 1, S.OUTSIDE_VERTICAL),
        (50, 50, 120, 1, S.INSIDE),
        (70, 70, 30, 0, S.IN_EXCLUSION),
        (70, 70, 50, 0, S.INSIDE),
        (70, 70, 30, -1, S.IN_EXCLUSION),
        (50, 50, 35, -1, S.UNASSIGNED),
        (250, 60, 35, 2, S.OUTSIDE_LATERAL),
        (235, 45, 35, 2, S.NEAR_EDGE),
        (225, 70, 35, 2, S.INSIDE),
        (100, 200, 50, 3, S.INSIDE),
        (100, 220, 50, 3, S.NEAR_EDGE),
        (100, 230, 50, 3, S.OUTSIDE_LATERAL),
        (-60, 50, 35, 0, S.OUTSIDE_BOUNDARY),
        (-60, 50, 35, -1, S.OUTSIDE_BOUNDARY),
    ],
)
def test_state_matches_reference(
    x: float, y: float, alt: float, vi: int, expected: S
) -> None:
    assert reference_state(x, y, alt, vi) is expected
    assert evaluate_one(x, y, alt, vi).state_of(0) is expected


def test_corridor_b_altitude_inside_corridor_a_outline_is_a_vertical_breach() -> None:
    result = evaluate_one(50, 50, 120, vi=0)
    assert result.state_of(0) is S.OUTSIDE_VERTICAL
    assert result.outside_vertical[0]
    assert not result.outside_lateral[0]
    assert result.vertical_distance_m[0] == pytest.approx(-60.0)


@pytest.mark.parametrize(
    ("x", "y", "vi", "distance"),
    [
        (95, 50, 0, 5.0),
        (105, 50, 0, -5.0),
        (150, 150, 0, -50 * math.sqrt(2)),
        (100, 50, 0, 0.0),
        (235, 45, 2, 5.0),
        (250, 60, 2, -math.hypot(10, 20) + 10),
    ],
)
def test_lateral_distance_is_exact_near_the_edge_and_outside(
    x: float, y: float, vi: int, distance: float
) -> None:
    result = evaluate_one(x, y, 35, vi)
    volume = VOLUMES[vi]
    expected = volume.outline.boundary.distance(Point(x, y))
    if not volume.outline.contains(Point(x, y)):
        expected = -expected
    assert result.lateral_distance_exact[0]
    assert result.lateral_distance_m[0] == pytest.approx(expected, abs=1e-9)
    if vi == 0:
        assert result.lateral_distance_m[0] == pytest.approx(distance, abs=1e-9)


def test_deep_inside_distance_is_a_lower_bound_unless_exact_is_asked() -> None:
    b, x, y = batch([50], [50], [35], [0])
    lazy = ENGINE.evaluate_metric(b, x, y)
    exact = ENGINE.evaluate_metric(b, x, y, exact_distances=True)
    assert not lazy.lateral_distance_exact[0]
    assert lazy.lateral_distance_m[0] == NEAR_M
    assert exact.lateral_distance_exact[0]
    assert exact.lateral_distance_m[0] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("x", "y", "alt", "vi", "vn", "ve", "vd", "seconds"),
    [
        (50, 50, 35, 0, 0, 10, 0, 5.0),  # east to x=100
        (50, 50, 35, 0, -10, 0, 0, 5.0),  # south to y=0
        (50, 50, 35, 0, 0, 0, -5, 5.0),  # climbing to 60 m
        (50, 50, 35, 0, 0, 0, 2.5, 10.0),  # sinking to 10 m, right at the horizon
        (50, 50, 35, 0, 0, 0, 2, math.inf),  # floor after the horizon
        (50, 50, 35, 0, 0, 1, 0, math.inf),  # too slow to leave
        (50, 50, 35, 0, 0, 0, 0, math.inf),
        (50, 50, 35, 0, 0, 10, -10, 2.5),  # vertical first
        (90, 90, 35, 0, 10, 10, 0, 1.0),  # corner, diagonal
        (105, 50, 35, 0, 0, -10, 0, 0.0),  # already outside
        (50, 50, 70, 0, 0, 0, 0, 0.0),
        (220, 20, 35, 2, 10, 10, 0, 2.0),  # L: hits the inner edge y=40 at x=240
        (220, 80, 35, 2, 0, 10, 0, 2.0),  # L: east wall at x=240
        (280, 20, 35, 2, 10, 0, 0, 2.0),  # L: top of the foot
    ],
)
def test_seconds_to_exit(
    x: float,
    y: float,
    alt: float,
    vi: int,
    vn: float,
    ve: float,
    vd: float,
    seconds: float,
) -> None:
    result = evaluate_one(x, y, alt, vi, vn, ve, vd)
    assert result.seconds_to_exit[0] == pytest.approx(seconds, abs=1e-9)


def test_path_along_an_edge_leaves_at_the_first_contact() -> None:
    # Inside the L at x=230, heading east along y=40's line: first touch at (240, 40)
    # where the inner edge begins; the drone is then on the boundary (outside).
    result = evaluate_one(230, 40, 35, 2, vn=0, ve=10)
    assert result.state_of(0) is S.NEAR_EDGE
    assert result.seconds_to_exit[0] == pytest.approx(1.0)


def test_unassigned_drone_has_no_volume_figures_but_meets_exclusions() -> None:
    b, x, y = batch([50, 70], [50, 70], [35, 30], [-1, -1])
    result = ENGINE.evaluate_metric(b, x, y)
    assert [result.state_of(i) for i in range(2)] == [S.UNASSIGNED, S.IN_EXCLUSION]
    assert np.isnan(result.lateral_distance_m).all()
    assert np.isnan(result.seconds_to_exit).all()
    assert not result.outside_lateral.any()
    assert result.in_exclusion.tolist() == [-1, 0]


def test_mixed_batch_keeps_rows_in_order() -> None:
    b, x, y = batch(
        [50, 50, 105, 70, 95],
        [50, 50, 50, 70, 50],
        [35, 35, 35, 30, 35],
        [0, -1, 0, 0, 0],
    )
    result = ENGINE.evaluate_metric(b, x, y)
    assert [result.state_of(i) for i in range(5)] == [
        S.INSIDE,
        S.UNASSIGNED,
        S.OUTSIDE_LATERAL,
        S.IN_EXCLUSION,
        S.NEAR_EDGE,
    ]
    assert result.drone_id.tolist() == [0, 1, 2, 3, 4]


def test_nan_position_or_altitude_is_outside() -> None:
    b, x, y = batch([np.nan, 50], [50, 50], [35, np.nan], [0, 0])
    result = ENGINE.evaluate_metric(b, x, y)
    assert result.outside_lateral[0]
    assert result.outside_vertical[1]


def test_lowest_exclusion_index_wins_and_tree_path_agrees() -> None:
    zones = [
        Volume(shapely.box(10.0 * i, 0.0, 10.0 * i + 15.0, 100.0), 0.0, 100.0)
        for i in range(40)
    ]
    few = ConformanceEngine(VOLUMES, exclusions=zones[:20])
    many = ConformanceEngine(VOLUMES, exclusions=zones)
    xs = np.linspace(-5, 420, 200)
    b, x, y = batch(xs, np.full(200, 50.0), np.full(200, 30.0), np.full(200, -1))
    ref = [
        next((i for i, z in enumerate(zones) if z.outline.contains(Point(px, 50))), -1)
        for px in xs
    ]
    assert many.evaluate_metric(b, x, y).in_exclusion.tolist() == ref
    ref_few = [
        next(
            (i for i, z in enumerate(zones[:20]) if z.outline.contains(Point(px, 50))),
            -1,
        )
        for px in xs
    ]
    assert few.evaluate_metric(b, x, y).in_exclusion.tolist() == ref_few


def test_lonlat_entry_projects_then_evaluates() -> None:
    projection = SiteProjection("EPSG:2326")
    origin = np.array([832_000.0, 812_000.0])
    volume = Volume(affinity.translate(SQUARE.outline, *origin), 10.0, 60.0)
    site_engine = ConformanceEngine([volume])
    x = origin[0] + np.array([50.0, 95.0, 105.0])
    y = origin[1] + np.array([50.0, 50.0, 50.0])
    lon, lat = projection.to_lonlat(x, y)
    b = DroneBatch(
        drone_id=np.array(["a", "b", "c"], dtype=object),
        lon_deg=lon,
        lat_deg=lat,
        alt_amsl_m=np.full(3, 35.0),
        vn_mps=np.zeros(3),
        ve_mps=np.zeros(3),
        vd_mps=np.zeros(3),
        t_s=np.zeros(3),
        volume_index=np.zeros(3, dtype=np.int64),
    )
    result = site_engine.evaluate(b, projection)
    assert [result.state_of(i) for i in range(3)] == [
        S.INSIDE,
        S.NEAR_EDGE,
        S.OUTSIDE_LATERAL,
    ]
    # The EPSG:2326 round trip (datum shift both ways) is good to a millimetre.
    assert result.lateral_distance_m[1] == pytest.approx(5.0, abs=1e-3)


@pytest.mark.parametrize("bad", [[4], [-2]])
def test_rejects_volume_index_out_of_range(bad: list[int]) -> None:
    b, x, y = batch([50], [50], [35], bad)
    with pytest.raises(ValueError, match="volume_index"):
        ENGINE.evaluate_metric(b, x, y)


def test_rejects_arrays_of_unequal_length() -> None:
    with pytest.raises(ValueError, match="equal length"):
        DroneBatch(
            drone_id=np.arange(2),
            lon_deg=np.zeros(2),
            lat_deg=np.zeros(2),
            alt_amsl_m=np.zeros(3),
            vn_mps=np.zeros(2),
            ve_mps=np.zeros(2),
            vd_mps=np.zeros(2),
            t_s=np.zeros(2),
            volume_index=np.zeros(2, dtype=np.int64),
        )


def test_empty_batch() -> None:
    b, x, y = batch([], [], [], [])
    assert len(ENGINE.evaluate_metric(b, x, y)) == 0


coordinate = st.floats(-60, 330, allow_nan=False)
altitude = st.floats(-10, 210, allow_nan=False)
volume_index = st.integers(-1, len(VOLUMES) - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(coordinate, coordinate, altitude, volume_index), max_size=20))
def test_engine_agrees_with_reference_on_random_points(
    drones: list[tuple[float, float, float, int]],
) -> None:
    x, y, alt, vi = (
        (list(c) for c in zip(*drones, strict=True)) if drones else ([],) * 4
    )
    b, xs, ys = batch(x, y, alt, vi)
    result = ENGINE.evaluate_metric(b, xs, ys, exact_distances=True)
    for i, (px, py, pa, v) in enumerate(drones):
        assert result.state_of(i) is reference_state(px, py, pa, v)
        if v >= 0:
            outline = VOLUMES[v].outline
            d = outline.boundary.distance(Point(px, py))
            signed = d if outline.contains(Point(px, py)) else -d
            assert result.lateral_distance_m[i] == pytest.approx(signed, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, len(VOLUMES) - 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0.001, 0.999),
    st.floats(-20, 20),
    st.floats(-20, 20),
    st.floats(-5, 5),
)
def test_point_inside_outline_and_band_is_never_reported_outside(
    vi: int, u: float, w: float, h: float, vn: float, ve: float, vd: float
) -> None:
    volume = VOLUMES[vi]
    xmin, ymin, xmax, ymax = volume.outline.bounds
    x, y = xmin + u * (xmax - xmin), ymin + w * (ymax - ymin)
    alt = volume.floor_amsl_m + h * (volume.ceiling_amsl_m - volume.floor_amsl_m)
    plain = ConformanceEngine(VOLUMES, near_edge_m=NEAR_M, horizon_s=HORIZON_S)
    b, xs, ys = batch([x], [y], [alt], [vi], [vn], [ve], [vd])
    result = plain.evaluate_metric(b, xs, ys)
    if volume.outline.contains(Point(x, y)):
        assert result.state_of(0) in (S.INSIDE, S.NEAR_EDGE)
        # >= 0: a point 1e-196 m inside has a distance that rounds to zero.
        assert result.lateral_distance_m[0] >= 0
        assert result.seconds_to_exit[0] >= 0
    else:
        assert result.state_of(0) is S.OUTSIDE_LATERAL
        assert result.seconds_to_exit[0] == 0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-60, 330),
    st.floats(-60, 330),
    st.floats(-20, 20),
    st.floats(-20, 20),
    st.integers(0, len(VOLUMES) - 1),
)
def test_exit_time_matches_geometric_first_crossing(
    x: float, y: float, vn: float, ve: float, vi: int
) -> None:
    outline = VOLUMES[vi].outline
    result = evaluate_one(x, y, 35 if vi != 1 else 125, vi, vn=vn, ve=ve)
    t = result.seconds_to_exit[0]
    if not outline.contains(Point(x, y)):
        assert t == 0
        return
    path = LineString([(x, y), (x + ve * HORIZON_S, y + vn * HORIZON_S)])
    end_inside = outline.contains(Point(path.coords[-1]))
    if end_inside:
        assert t == math.inf  # documented: look-ahead point decides
        return
    hit = shapely.intersection(path, outline.boundary)
    along = [path.project(Point(c)) for c in shapely.get_coordinates(hit)]
    expected = min(along) / path.length * HORIZON_S
    assert t == pytest.approx(expected, abs=1e-6)
