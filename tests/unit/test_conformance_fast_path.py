"""The engine's fast path (raster, distance bound, edge grid) gives, field by field,
the answers of a plain per-drone Shapely reference on seeded random fleets."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from airspace import clearance
from airspace.arrays import FloatArray
from airspace.clearance import ClearanceGrid
from airspace.conformance import (
    ConformanceEngine,
    ConformanceResult,
    ConformanceState as S,
    DroneBatch,
    clearance_cell_m,
)
from airspace.edges import BoundaryEdges, EdgeGrid
from airspace.volume import Volume

ORIGIN = np.array([832_000.0, 812_000.0])
"""Site metres like Hong Kong 1980 Grid: large coordinates, as in production."""


def _star(rng: np.random.Generator, centre: FloatArray, k: int) -> Polygon:
    angle = np.sort(rng.uniform(0, 2 * np.pi, k))
    radius = rng.uniform(40, 160) * rng.uniform(0.5, 1.0, k)
    return Polygon(
        np.column_stack(
            [centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)]
        )
    )


def at(dx: float, dy: float) -> FloatArray:
    """Return the site point ``(dx, dy)`` metres from ``ORIGIN``."""
    return np.asarray(ORIGIN + np.array([dx, dy]), dtype=np.float64)


def make_volumes(rng: np.random.Generator) -> list[Volume]:
    """Outlines of every kind the engine meets: buffered centre lines, concave
    stars, a hole, an L with a reflex corner, a sliver and one smaller than a cell."""
    line = np.cumsum(rng.uniform(-120, 120, (5, 2)), axis=0) + at(300, 300)
    l_shape = [(0, 0), (120, 0), (120, 50), (50, 50), (50, 140), (0, 140)]
    outlines: list[object] = [
        shapely.buffer(LineString(line), rng.uniform(15, 40), quad_segs=4),
        _star(rng, at(700, 100), int(rng.integers(8, 30))),
        _star(rng, at(-300, 400), int(rng.integers(8, 30))),
        shapely.box(*at(-100, -100), *at(100, 100)).difference(
            shapely.box(*at(-30, -30), *at(40, 40))
        ),
        Polygon([at(-400 + px, py) for px, py in l_shape]),
        shapely.buffer(LineString([at(0, 600), at(250, 650)]), 2.0),
        shapely.box(*at(500, 500), *at(503, 504)),
    ]
    volumes = []
    for outline in outlines:
        assert isinstance(outline, Polygon)
        assert outline.is_valid
        floor = float(rng.uniform(0, 30))
        volumes.append(Volume(outline, floor, floor + float(rng.uniform(20, 90))))
    return volumes


@dataclass(frozen=True)
class Fleet:
    x: FloatArray
    y: FloatArray
    alt: FloatArray
    vn: FloatArray
    ve: FloatArray
    vd: FloatArray
    vi: npt.NDArray[np.int64]


def _nearest_edge_points(outline: Polygon, x: FloatArray, y: FloatArray) -> FloatArray:
    points = shapely.points(x, y)
    near = shapely.shortest_line(outline.boundary, points)
    return np.asarray(shapely.get_coordinates(shapely.get_point(near, 0)))


def make_fleet(
    rng: np.random.Generator,
    volumes: list[Volume],
    engine: ConformanceEngine,
    per_volume: int,
) -> Fleet:
    """Drones anywhere around each volume, on and near its edges, at the exact
    distance bounds, with zero, ordinary and huge speeds; plus unassigned ones."""
    h = engine.horizon_s
    parts: list[tuple[FloatArray, ...]] = []
    for v, volume in enumerate(volumes):
        outline = volume.outline
        xmin, ymin, xmax, ymax = outline.bounds
        n = per_volume
        # Anywhere in the grown bounding box.
        x = rng.uniform(xmin - 30, xmax + 30, n)
        y = rng.uniform(ymin - 30, ymax + 30, n)
        # Near the edge, and exactly on vertices and on edge midpoints.
        edge_points = shapely.get_coordinates(
            shapely.line_interpolate_point(
                outline.exterior, rng.random(n), normalized=True
            )
        )
        vertices = shapely.get_coordinates(outline)
        mids = (vertices[:-1] + vertices[1:]) / 2
        on_edge = np.vstack([vertices, mids])
        x = np.concatenate(
            [x, edge_points[:, 0] + rng.uniform(-15, 15, n), on_edge[:, 0]]
        )
        y = np.concatenate(
            [y, edge_points[:, 1] + rng.uniform(-15, 15, n), on_edge[:, 1]]
        )
        m = x.size
        heading = rng.uniform(0, 2 * np.pi, m)
        speed = rng.choice(
            [0.0, 1.0, 5.0, 15.0, 40.0, 1e4, 1e6],
            size=m,
            p=[0.1, 0.2, 0.2] + [0.125] * 4,
        )
        ve, vn = speed * np.sin(heading), speed * np.cos(heading)

        # At the exact distance bound: heading for the nearest boundary point,
        # reaching it exactly at the horizon (and a hair short or beyond).
        inside = np.flatnonzero(shapely.contains_xy(outline, x, y))
        pick = inside[rng.random(inside.size) < 0.3]
        target = _nearest_edge_points(outline, x[pick], y[pick])
        scale = rng.choice([1.0, 1.0 - 1e-9, 1.0 + 1e-9], size=pick.size)
        ve[pick] = (target[:, 0] - x[pick]) / h * scale
        vn[pick] = (target[:, 1] - y[pick]) / h * scale
        # At the raster's bound: a reach of exactly the clearance it certifies.
        # (The engine's own raster: the bound it skips on is the one to probe.)
        clear = engine._clearance.lookup(np.full(m, v), x, y)
        deep = np.flatnonzero((clear > 0) & (rng.random(m) < 0.5))
        deep_speed = clear[deep] / h * rng.choice([1.0, 1.0 - 1e-7, 1.0 + 1e-7])
        ve[deep] = deep_speed * np.sin(heading[deep])
        vn[deep] = deep_speed * np.cos(heading[deep])

        floor, ceiling = volume.floor_amsl_m, volume.ceiling_amsl_m
        alt = rng.uniform(floor - 10, ceiling + 10, m)
        special = rng.random(m)
        alt[special < 0.05] = floor
        alt[(special >= 0.05) & (special < 0.1)] = ceiling
        alt[(special >= 0.1) & (special < 0.15)] = ceiling - engine.near_edge_vertical_m
        vd = rng.choice([0.0, 0.5, -2.0, 3.0], size=m)
        parts.append((x, y, alt, vn, ve, vd, np.full(m, v, dtype=np.int64)))
    fleet = [np.concatenate(column) for column in zip(*parts, strict=True)]
    unassigned = rng.random(fleet[0].size) < 0.05
    fleet[6][unassigned] = -1
    order = rng.permutation(fleet[0].size)
    return Fleet(*(column[order] for column in fleet))


@dataclass(frozen=True)
class Expected:
    state: S
    outside_lateral: bool
    outside_vertical: bool
    outside_boundary: bool
    in_exclusion: int
    lateral_distance_m: float
    vertical_distance_m: float
    seconds_to_exit: float


def reference(
    engine: ConformanceEngine,
    x: float,
    y: float,
    alt: float,
    vn: float,
    ve: float,
    vd: float,
    vi: int,
) -> Expected:
    """One drone, plain Shapely predicates, the engine's documented rules."""
    point = Point(x, y)
    zone = next(
        (
            i
            for i, z in enumerate(engine.exclusions)
            if z.outline.contains(point) and z.floor_amsl_m < alt < z.ceiling_amsl_m
        ),
        -1,
    )
    b = engine.boundary
    outside_boundary = b is not None and not (
        b.outline.contains(point) and b.floor_amsl_m < alt < b.ceiling_amsl_m
    )
    nan = math.nan
    if vi < 0:
        state, out_lat, out_vert = S.UNASSIGNED, False, False
        lateral = vertical = seconds = nan
    else:
        volume = engine.volumes[vi]
        outline = volume.outline
        in_outline = bool(outline.contains(point))
        d = outline.boundary.distance(point)
        lateral = d if in_outline else -d
        floor, ceiling = volume.floor_amsl_m, volume.ceiling_amsl_m
        vertical = min(alt - floor, ceiling - alt)
        out_lat, out_vert = not in_outline, not vertical > 0
        inside = in_outline and not out_vert
        if out_lat:
            state = S.OUTSIDE_LATERAL
        elif out_vert:
            state = S.OUTSIDE_VERTICAL
        elif d <= engine.near_edge_m or vertical <= engine.near_edge_vertical_m:
            state = S.NEAR_EDGE
        else:
            state = S.INSIDE
        seconds = 0.0
        if inside:
            seconds = min(
                _seconds_vertical(engine.horizon_s, alt, floor, ceiling, vd),
                _seconds_lateral(engine.horizon_s, outline, x, y, vn, ve),
            )
    if outside_boundary:
        state = S.OUTSIDE_BOUNDARY
    if zone >= 0:
        state = S.IN_EXCLUSION
    return Expected(
        state, out_lat, out_vert, outside_boundary, zone, lateral, vertical, seconds
    )


def _seconds_vertical(
    horizon: float, alt: float, floor: float, ceiling: float, vd: float
) -> float:
    climb = -vd
    if climb > 0:
        t = (ceiling - alt) / climb
    elif climb < 0:
        t = (alt - floor) / -climb
    else:
        return math.inf
    return t if t <= horizon else math.inf


def _seconds_lateral(
    horizon: float, outline: Polygon, x: float, y: float, vn: float, ve: float
) -> float:
    ahead = (x + ve * horizon, y + vn * horizon)
    if outline.contains(Point(ahead)):
        return math.inf
    path = LineString([(x, y), ahead])
    hit = shapely.intersection(path, outline.boundary)
    along = min(path.project(Point(c)) for c in shapely.get_coordinates(hit))
    return along / path.length * horizon


def assert_matches_reference(
    engine: ConformanceEngine, fleet: Fleet, exact_distances: bool
) -> None:
    n = fleet.x.size
    batch = DroneBatch(
        drone_id=np.arange(n),
        lon_deg=np.full(n, np.nan),
        lat_deg=np.full(n, np.nan),
        alt_amsl_m=fleet.alt,
        vn_mps=fleet.vn,
        ve_mps=fleet.ve,
        vd_mps=fleet.vd,
        t_s=np.zeros(n),
        volume_index=fleet.vi,
    )
    result = engine.evaluate_metric(
        batch, fleet.x, fleet.y, exact_distances=exact_distances
    )
    for i in range(n):
        expected = reference(
            engine,
            float(fleet.x[i]),
            float(fleet.y[i]),
            float(fleet.alt[i]),
            float(fleet.vn[i]),
            float(fleet.ve[i]),
            float(fleet.vd[i]),
            int(fleet.vi[i]),
        )
        reach = math.hypot(fleet.ve[i], fleet.vn[i]) * engine.horizon_s
        check_drone(engine, result, i, expected, exact_distances, reach)


def check_drone(
    engine: ConformanceEngine,
    result: ConformanceResult,
    i: int,
    expected: Expected,
    exact_distances: bool,
    reach: float,
) -> None:
    where = f"drone {i}: {expected}"
    assert result.state_of(i) is expected.state, where
    assert result.outside_lateral[i] == expected.outside_lateral, where
    assert result.outside_vertical[i] == expected.outside_vertical, where
    assert result.outside_boundary[i] == expected.outside_boundary, where
    assert result.in_exclusion[i] == expected.in_exclusion, where
    approx = pytest.approx(expected.vertical_distance_m, abs=1e-9, nan_ok=True)
    assert result.vertical_distance_m[i] == approx, where
    seconds = pytest.approx(expected.seconds_to_exit, abs=1e-6, nan_ok=True)
    if result.seconds_to_exit[i] != seconds:
        # On its edge to within rounding (the crossing test's tolerance is 1e-12
        # of the path): leaving at once is as right as the far crossing.
        assert abs(expected.lateral_distance_m) <= 1e-12 * reach + 1e-9, where
        assert result.seconds_to_exit[i] == 0, where

    lateral = expected.lateral_distance_m
    if math.isnan(lateral):
        assert np.isnan(result.lateral_distance_m[i]), where
        assert not result.lateral_distance_exact[i], where
        return
    # Exact wherever the contract promises it (outside, in the band), or asked.
    must_be_exact = exact_distances or lateral <= engine.near_edge_m
    if must_be_exact or result.lateral_distance_exact[i]:
        assert result.lateral_distance_exact[i], where
        assert result.lateral_distance_m[i] == pytest.approx(lateral, abs=1e-6), where
    else:
        assert result.lateral_distance_m[i] == engine.near_edge_m, where


SEEDS = [20240611, 1, 2, 3]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("near_edge_m", "horizon_s"), [(10.0, 10.0), (3.0, 30.0), (0.0, 5.0)]
)
def test_fast_path_matches_per_drone_reference_on_random_fleets(
    seed: int, near_edge_m: float, horizon_s: float
) -> None:
    rng = np.random.default_rng(seed)
    volumes = make_volumes(rng)
    exclusions = [
        Volume(shapely.buffer(Point(*at(*rng.uniform(-400, 700, 2))), 60.0), 0, 50)
        for _ in range(2)
    ]
    # A boundary that leaves some volumes partly outside: their drones meet it.
    boundary = Volume(shapely.box(*at(-350, -350), *at(650, 650)), -50.0, 110.0)
    engine = ConformanceEngine(
        volumes,
        exclusions,
        boundary,
        near_edge_m=near_edge_m,
        horizon_s=horizon_s,
    )
    fleet = make_fleet(rng, volumes, engine, per_volume=60)
    assert_matches_reference(engine, fleet, exact_distances=False)
    assert_matches_reference(engine, fleet, exact_distances=True)


def test_fleets_reach_every_branch_of_the_fast_path() -> None:
    """The fleets above settle drones by the raster, skip look-ahead tests by the
    distance bound and still send some to GEOS: the comparison covers each."""
    rng = np.random.default_rng(SEEDS[0])
    volumes = make_volumes(rng)
    engine = ConformanceEngine(volumes)
    fleet = make_fleet(rng, volumes, engine, per_volume=60)
    assigned = fleet.vi >= 0
    vi, x, y = fleet.vi[assigned], fleet.x[assigned], fleet.y[assigned]
    clear = engine._clearance.lookup(vi, x, y)
    reach = np.hypot(fleet.ve, fleet.vn)[assigned] * engine.horizon_s
    # The fleets are edge-heavy on purpose; each branch still has dozens of drones.
    assert (clear > engine.near_edge_m).sum() > 30  # deep: no near-edge test
    assert (clear < 0).sum() > 200  # surely outside: no GEOS
    assert (clear == 0).sum() > 200  # undecided: GEOS
    assert ((reach < clear) & (reach > 0)).sum() > 10  # look-ahead skipped
    assert (np.abs(reach - clear) < 1e-5).sum() > 50  # right at the bound


@pytest.mark.parametrize("cell_m", [1.0, 5.0, 8.0])
def test_clearance_raster_claims_only_what_is_certain(cell_m: float) -> None:
    rng = np.random.default_rng(7)
    volumes = make_volumes(rng)
    outlines = np.array([v.outline for v in volumes], dtype=object)
    grid = ClearanceGrid(BoundaryEdges(outlines), cell_m=cell_m, exact_m=25.0)
    for v, outline in enumerate(outlines):
        xmin, ymin, xmax, ymax = outline.bounds
        x = rng.uniform(xmin - 3 * cell_m, xmax + 3 * cell_m, 4000)
        y = rng.uniform(ymin - 3 * cell_m, ymax + 3 * cell_m, 4000)
        # Points on cell borders and corners, where rounding picks the cell.
        gx = grid.ox[v] + cell_m * rng.integers(0, 200, 1000)
        gy = grid.oy[v] + cell_m * rng.integers(0, 200, 1000)
        x, y = np.concatenate([x, gx]), np.concatenate([y, gy])
        value = grid.lookup(np.full(x.size, v), x, y)
        inside = shapely.contains_xy(outline, x, y)
        distance = shapely.distance(outline.boundary, shapely.points(x, y))
        assert inside[value > 0].all()
        assert (distance[value > 0] >= value[value > 0]).all()
        assert not inside[value < 0].any()
        assert (value <= 25.0).all()


def test_clearance_raster_coarsens_a_site_too_large_and_stays_certain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clearance, "MAX_CELLS", 2_000)
    rng = np.random.default_rng(8)
    outlines = np.array([v.outline for v in make_volumes(rng)], dtype=object)
    grid = ClearanceGrid(BoundaryEdges(outlines), cell_m=1.0, exact_m=25.0)
    assert grid.cells <= 2_000
    assert grid.cell_m > 1.0
    vi = rng.integers(0, outlines.size, 20_000)
    bounds = shapely.bounds(outlines[vi])
    x = rng.uniform(bounds[:, 0] - 10, bounds[:, 2] + 10)
    y = rng.uniform(bounds[:, 1] - 10, bounds[:, 3] + 10)
    value = grid.lookup(vi, x, y)
    inside = shapely.contains_xy(outlines[vi], x, y)
    distance = shapely.distance(shapely.boundary(outlines[vi]), shapely.points(x, y))
    assert inside[value > 0].all()
    assert (distance[value > 0] >= value[value > 0]).all()
    assert not inside[value < 0].any()
    assert (value != 0).mean() > 0.3


def test_clearance_raster_settles_most_of_a_wide_outline() -> None:
    square = np.array([shapely.box(0.0, 0.0, 200.0, 200.0)], dtype=object)
    grid = ClearanceGrid(BoundaryEdges(square), cell_m=5.0, exact_m=15.0)
    x, y = np.meshgrid(np.arange(-50.5, 250, 3.0), np.arange(-50.5, 250, 3.0))
    value = grid.lookup(np.zeros(x.size, np.int64), x.ravel(), y.ravel())
    deep = (x.ravel() > 25) & (x.ravel() < 175) & (y.ravel() > 25) & (y.ravel() < 175)
    assert value[deep] == pytest.approx(np.full(deep.sum(), 15.0), abs=2e-3)
    far = (np.abs(x.ravel() - 100) > 110) | (np.abs(y.ravel() - 100) > 110)
    assert (value[far] < 0).all()


def test_clearance_raster_puts_nan_and_far_points_outside() -> None:
    square = np.array([shapely.box(0.0, 0.0, 100.0, 100.0)], dtype=object)
    grid = ClearanceGrid(BoundaryEdges(square), cell_m=5.0, exact_m=15.0)
    x = np.array([np.nan, 50.0, 1e300, -np.inf, 50.0])
    y = np.array([50.0, np.nan, 50.0, 50.0, 50.0])
    assert grid.lookup(np.zeros(5, np.int64), x, y).tolist()[:4] == [-1.0] * 4


def test_edge_grid_distance_is_exact_within_reach_and_nan_beyond() -> None:
    rng = np.random.default_rng(11)
    volumes = make_volumes(rng)
    outlines = np.array([v.outline for v in volumes], dtype=object)
    grid = EdgeGrid(BoundaryEdges(outlines), reach_m=12.0, cell_m=24.0)
    vi = rng.integers(0, len(volumes), 5000)
    bounds = shapely.bounds(outlines[vi])
    x = rng.uniform(bounds[:, 0] - 20, bounds[:, 2] + 20)
    y = rng.uniform(bounds[:, 1] - 20, bounds[:, 3] + 20)
    got = grid.near_distance(vi, x, y)
    want = shapely.distance(shapely.boundary(outlines[vi]), shapely.points(x, y))
    within = want <= 12.0 - 1e-9
    assert np.allclose(got[within], want[within], rtol=0, atol=1e-9)
    assert np.isnan(got[want > 12.0 + 1e-9]).all()
    assert within.sum() > 500


def test_edge_grid_path_candidates_hold_every_crossed_edge() -> None:
    rng = np.random.default_rng(12)
    volumes = make_volumes(rng)
    outlines = np.array([v.outline for v in volumes], dtype=object)
    edges = BoundaryEdges(outlines)
    grid = EdgeGrid(edges, reach_m=0.0, cell_m=30.0)
    vi = rng.integers(0, len(volumes), 400)
    bounds = shapely.bounds(outlines[vi])
    x0 = rng.uniform(bounds[:, 0], bounds[:, 2])
    y0 = rng.uniform(bounds[:, 1], bounds[:, 3])
    angle = rng.uniform(0, 2 * np.pi, vi.size)
    length = rng.uniform(0, 400, vi.size)
    x1, y1 = x0 + length * np.cos(angle), y0 + length * np.sin(angle)
    path, edge = grid.path_candidates(vi, x0, y0, x1, y1)
    found = set(zip(path.tolist(), edge.tolist(), strict=True))
    starts = np.column_stack([edges.x0, edges.y0])
    ends = np.column_stack([edges.x1, edges.y1])
    segments = np.asarray(shapely.linestrings(np.stack([starts, ends], axis=1)))
    crossed = 0
    for i in range(vi.size):
        line = LineString([(x0[i], y0[i]), (x1[i], y1[i])])
        own = np.flatnonzero(edges.volume == vi[i])
        for e in own[shapely.intersects(segments[own], line)]:
            assert (i, int(e)) in found
            crossed += 1
    assert crossed > 100


def test_clearance_cell_follows_the_near_edge_band() -> None:
    assert clearance_cell_m(10.0) == 5.0
    assert clearance_cell_m(0.0) == 2.0
    assert clearance_cell_m(100.0) == 8.0
