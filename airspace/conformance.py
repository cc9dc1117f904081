"""Vectorised conformance of a whole fleet against its assigned volumes.

One call evaluates every drone of a telemetry batch at once: lateral containment in
the drone's *own* assigned volume, vertical containment in the *same* volume (never
"lateral in one corridor, vertical in another"), the near-edge band, exclusion zones,
the optional site boundary, and a straight-line prediction of when the drone leaves
its volume. Everything is in the site's metric CRS (metres, x east, y north) and
metres AMSL; the lon/lat entry point projects once per batch and then calls the
metric one.

How it stays fast: everything per volume is prepared once at construction, and a
batch is settled by the cheapest test that is certain:

- a raster of each outline (``airspace.clearance``) gives every drone, in a few numpy
  gathers, a lower bound on its distance inside its outline, or says it is surely
  outside; only drones in cells that touch the boundary meet GEOS
  (``shapely.contains_xy``, the batch sorted by volume first);
- a drone deeper than the near-edge band needs neither the near-edge test nor an
  exact distance; a drone whose distance to the boundary exceeds its speed times
  the horizon cannot leave within the horizon, so its look-ahead test is skipped,
  and the other look-ahead points are settled by the same raster;
- exact distances (near the edge, outside) and exit times (look-ahead point
  outside) come from a grid of boundary edges (``airspace.edges``) in numpy.

The raster only ever settles what is certain, so the results are those of the
plain per-drone tests. ``bench/geofence.py`` holds the measurements.

Strictness: a drone is inside when it is in the open interior of the outline
(Shapely's ``contains``) and strictly between floor and ceiling. A drone exactly on
an edge, floor or ceiling counts as outside; so does a drone with a NaN coordinate.

This module is pure: no clock reads, no I/O.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from airspace.arrays import (
    BoolArray,
    FloatArray as FloatArray,  # re-exported: the batch's coordinate arrays
    GeomArray,
    IntArray,
    float_array as _float_array,
)
from airspace.clearance import ClearanceGrid
from airspace.edges import BoundaryEdges, EdgeGrid
from airspace.projection import SiteProjection
from airspace.volume import Volume

StateArray = npt.NDArray[np.int8]

DEFAULT_NEAR_EDGE_M = 10.0
"""Lateral warning band inside an outline: about two GNSS error ellipses plus a
second of drift at survey speed."""
DEFAULT_NEAR_EDGE_VERTICAL_M = 5.0
"""Vertical warning band below the ceiling and above the floor (barometric noise)."""
DEFAULT_HORIZON_S = 10.0
"""How far ahead ``seconds_to_exit`` looks; beyond it the answer is ``inf``."""
STRTREE_MIN_ZONES = 32
"""From this many exclusion zones on, an STRtree replaces per-zone bbox tests."""

_GRID_MARGIN_M = 20.0
"""Extra reach of the edge grid, so drones that drifted out of their outline (a
couple of seconds of flight) get their distance from it too; farther ones ask GEOS
(about ten times the cost per drone)."""
_PATH_CELL_SPEED_MPS = 10.0
"""Survey speed that sizes the exit-path grid's cells (speed x horizon)."""
_LOOK_AHEAD_SLACK_M = 1e-6
"""A drone skips its look-ahead test only when its reach is short of its clearance
by this much: the rounded look-ahead point must stay strictly inside."""


def clearance_cell_m(near_edge_m: float) -> float:
    """Return the clearance raster's cell size for a near-edge band.

    Half the band, within 2-8 m: a drone counts as deep once its cell is clear of
    the band, and the band plus a cell diagonal is what the exact path handles.
    """
    return min(max(near_edge_m / 2.0, 2.0), 8.0)


class ConformanceState(enum.IntEnum):
    """The one state that sums up a drone; a larger value takes precedence.

    Precedence, highest first: IN_EXCLUSION > OUTSIDE_BOUNDARY > UNASSIGNED >
    OUTSIDE_LATERAL > OUTSIDE_VERTICAL > NEAR_EDGE > INSIDE. The separate boolean
    arrays of a ``ConformanceResult`` say everything that applies.
    """

    INSIDE = 0
    NEAR_EDGE = 1
    """Inside, but within the lateral or vertical near-edge band."""
    OUTSIDE_VERTICAL = 2
    """Inside the assigned outline, below its floor or above its ceiling."""
    OUTSIDE_LATERAL = 3
    """Outside the assigned outline (whatever the altitude)."""
    UNASSIGNED = 4
    """Flying with no assigned volume (unbooked)."""
    OUTSIDE_BOUNDARY = 5
    """Outside the site's inclusion boundary (outline or band)."""
    IN_EXCLUSION = 6
    """Inside an exclusion zone (outline and band)."""


BREACH_STATES = frozenset(
    {
        ConformanceState.OUTSIDE_VERTICAL,
        ConformanceState.OUTSIDE_LATERAL,
        ConformanceState.UNASSIGNED,
        ConformanceState.OUTSIDE_BOUNDARY,
        ConformanceState.IN_EXCLUSION,
    }
)
"""States that are a breach; exactly those at or above OUTSIDE_VERTICAL."""


@dataclass(frozen=True)
class DroneBatch:
    """One telemetry sample per drone, as equal-length 1-D arrays.

    Positions are WGS84 degrees and metres AMSL; velocity is NED like MAVLink
    (``vd_mps`` positive down); ``t_s`` is the sample's UTC epoch seconds.
    ``volume_index`` indexes the engine's ``volumes``; -1 means no assignment.
    Arrays are converted to float64/int64 on construction (no copy when they already
    are); lengths must agree.
    """

    drone_id: npt.NDArray[Any]
    lon_deg: FloatArray
    lat_deg: FloatArray
    alt_amsl_m: FloatArray
    vn_mps: FloatArray
    ve_mps: FloatArray
    vd_mps: FloatArray
    t_s: FloatArray
    volume_index: IntArray

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "drone_id", np.asarray(self.drone_id))
        for name in (
            "lon_deg",
            "lat_deg",
            "alt_amsl_m",
            "vn_mps",
            "ve_mps",
            "vd_mps",
            "t_s",
        ):
            set_(self, name, _float_array(getattr(self, name)))
        set_(self, "volume_index", np.asarray(self.volume_index, dtype=np.int64))
        lengths = {
            name: np.shape(getattr(self, name)) for name in self.__dataclass_fields__
        }
        if len(set(lengths.values())) != 1 or len(lengths["drone_id"]) != 1:
            raise ValueError(f"drone batch arrays must be 1-D, equal length: {lengths}")

    def __len__(self) -> int:
        return int(self.drone_id.shape[0])


@dataclass(frozen=True)
class ConformanceResult:
    """Per-drone conformance of one batch; every array is in batch order.

    ``state`` holds ``ConformanceState`` values (int8). ``in_exclusion`` is the index
    of the exclusion zone the drone is in (the lowest index if several), -1 for none.

    ``lateral_distance_m`` is signed to the assigned outline's boundary: positive
    inside, negative (or -0.0 on the edge) outside. It is exact where
    ``lateral_distance_exact`` is True: always in the near-edge band and outside.
    For drones the engine knows to be deeper inside than the band it is a lower
    bound, ``near_edge_m``, unless the engine was asked for exact distances.
    ``vertical_distance_m`` is signed to the nearer of floor and ceiling, always
    exact.

    ``seconds_to_exit``: 0 when already outside the assigned volume (laterally or
    vertically); otherwise the time until the straight-line path at the current
    velocity first leaves the volume, ``inf`` when not within the horizon.

    Unassigned drones have NaN distances and NaN ``seconds_to_exit`` (there is no
    volume to be in or leave) and False ``outside_*`` flags; they are still checked
    against exclusions and the boundary.
    """

    drone_id: npt.NDArray[Any]
    volume_index: IntArray
    state: StateArray
    outside_lateral: BoolArray
    outside_vertical: BoolArray
    outside_boundary: BoolArray
    in_exclusion: IntArray
    lateral_distance_m: FloatArray
    lateral_distance_exact: BoolArray
    vertical_distance_m: FloatArray
    seconds_to_exit: FloatArray

    def __len__(self) -> int:
        return int(self.state.shape[0])

    def state_of(self, i: int) -> ConformanceState:
        """Return the state of the ``i``-th drone of the batch as the enum."""
        return ConformanceState(int(self.state[i]))


def _geom_array(geoms: Sequence[shapely.Geometry]) -> GeomArray:
    out = np.empty(len(geoms), dtype=object)
    out[:] = list(geoms)
    return out


@dataclass(frozen=True)
class _Assigned:
    """The volume checks of the assigned drones of a batch (internal)."""

    state: StateArray
    outside_lateral: BoolArray
    outside_vertical: BoolArray
    lateral_distance_m: FloatArray
    lateral_distance_exact: BoolArray
    vertical_distance_m: FloatArray
    seconds_to_exit: FloatArray
    inside: BoolArray


def _collinear_contact(
    dx: FloatArray,
    dy: FloatArray,
    ex: FloatArray,
    ey: FloatArray,
    wx: FloatArray,
    wy: FloatArray,
    eps: float,
) -> tuple[BoolArray, FloatArray]:
    """Return, per parallel (path, edge) pair, whether the path runs along the edge
    and where it first touches it (a fraction of the path).

    ``dx, dy`` is the path, ``ex, ey`` the edge and ``wx, wy`` the edge's start
    from the path's start. The path starts strictly inside, off the edge, so first
    contact is the nearer edge end.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dd = dx * dx + dy * dy
        t_a = (wx * dx + wy * dy) / dd
        t_b = ((wx + ex) * dx + (wy + ey) * dy) / dd
        off_line = np.abs(wx * dy - wy * dx)
        collinear = off_line <= eps * np.hypot(wx, wy) * np.sqrt(dd)
        t_lo = np.maximum(np.minimum(t_a, t_b), 0.0)
        collinear &= (t_lo <= 1.0) & (np.maximum(t_a, t_b) >= 0.0)
    return collinear, t_lo


def _segments(start: FloatArray, end: FloatArray) -> GeomArray:
    """Return two-point linestrings from ``(n, 2)`` start and end coordinates."""
    return np.asarray(
        shapely.linestrings(np.stack([start, end], axis=1)), dtype=object
    ).reshape(-1)


class ConformanceEngine:
    """Evaluates fleets of drones against assigned volumes, exclusions and boundary.

    ``volumes`` are the assignable volumes (corridors, booked areas) in site metres;
    a batch's ``volume_index`` points into them. ``exclusions`` are no-fly volumes
    checked for every drone, assigned or not. ``boundary`` is the site's inclusion
    volume, if any. ``near_edge_m`` / ``near_edge_vertical_m`` are the warning bands
    inside the outline and inside the band; ``horizon_s`` is how far
    ``seconds_to_exit`` looks ahead. Construction does all the geometry preparation;
    build one engine per set of volumes and reuse it for every batch.
    """

    def __init__(
        self,
        volumes: Sequence[Volume],
        exclusions: Sequence[Volume] = (),
        boundary: Volume | None = None,
        near_edge_m: float = DEFAULT_NEAR_EDGE_M,
        near_edge_vertical_m: float = DEFAULT_NEAR_EDGE_VERTICAL_M,
        horizon_s: float = DEFAULT_HORIZON_S,
    ) -> None:
        if not near_edge_m >= 0 or not near_edge_vertical_m >= 0:
            raise ValueError("near-edge bands must be >= 0 m")
        if not horizon_s > 0:
            raise ValueError(f"horizon must be > 0 s, got {horizon_s}")
        self.volumes = tuple(volumes)
        self.exclusions = tuple(exclusions)
        self.boundary = boundary
        self.near_edge_m = float(near_edge_m)
        self.near_edge_vertical_m = float(near_edge_vertical_m)
        self.horizon_s = float(horizon_s)

        self._outlines = _geom_array([v.outline for v in self.volumes])
        self._floors = _float_array([v.floor_amsl_m for v in self.volumes])
        self._ceilings = _float_array([v.ceiling_amsl_m for v in self.volumes])
        self._boundaries = shapely.boundary(self._outlines)
        for array in (self._outlines, self._boundaries):
            shapely.prepare(array)
        edges = BoundaryEdges(self._outlines)
        cell = clearance_cell_m(self.near_edge_m)
        # Deeper than the band plus one cell, the bound is flat: deep enough to skip
        # the near-edge test, and look-ahead points are settled by the raster anyway.
        self._clearance = ClearanceGrid(
            edges, cell_m=cell, exact_m=self.near_edge_m + cell
        )
        # A drone the raster leaves undecided, or inside but within the band, is at
        # most the band plus a cell diagonal from the edge; outside ones are within
        # the margin or get their distance from GEOS.
        diagonal = self._clearance.cell_m * math.sqrt(2.0)
        reach = self.near_edge_m + diagonal + _GRID_MARGIN_M
        self._edges = EdgeGrid(edges, reach_m=reach, cell_m=2.0 * reach)
        # Exit paths need every edge they may cross, none beyond: no reach. Cells
        # about a look-ahead long keep a path in a few of them.
        path_cell = max(_PATH_CELL_SPEED_MPS * self.horizon_s, 2.0 * reach)
        self._paths = EdgeGrid(edges, reach_m=0.0, cell_m=path_cell)

        self._zones = _geom_array([z.outline for z in self.exclusions])
        shapely.prepare(self._zones)
        self._zone_floors = _float_array([z.floor_amsl_m for z in self.exclusions])
        self._zone_ceilings = _float_array([z.ceiling_amsl_m for z in self.exclusions])
        self._zone_bounds = shapely.bounds(self._zones).reshape(-1, 4)
        self._zone_tree = (
            shapely.STRtree(self._zones)
            if len(self.exclusions) >= STRTREE_MIN_ZONES
            else None
        )

        # A drone strictly inside a volume that the boundary covers (outline and
        # band) is strictly inside the boundary: it needs no boundary test.
        if boundary is None:
            self._covered = np.ones(len(self.volumes), dtype=bool)
        else:
            shapely.prepare(boundary.outline)
            self._covered = np.asarray(
                shapely.covers(boundary.outline, self._outlines), dtype=bool
            ) & (
                (self._floors >= boundary.floor_amsl_m)
                & (self._ceilings <= boundary.ceiling_amsl_m)
            )

    def evaluate(
        self, batch: DroneBatch, projection: SiteProjection
    ) -> ConformanceResult:
        """Return the conformance of ``batch`` (lon/lat), projecting it once."""
        x_m, y_m = projection.to_metric(batch.lon_deg, batch.lat_deg)
        return self.evaluate_metric(batch, x_m, y_m)

    def evaluate_metric(
        self,
        batch: DroneBatch,
        x_m: npt.ArrayLike,
        y_m: npt.ArrayLike,
        *,
        exact_distances: bool = False,
    ) -> ConformanceResult:
        """Return the conformance of ``batch`` at site-metric positions ``x_m, y_m``.

        The caller has projected ``batch``'s lon/lat into the site CRS (x east, y
        north); ``batch.lon_deg``/``lat_deg`` are not read. Velocities are taken as
        east/north in that grid (grid convergence, under a degree on a site, is
        ignored). ``exact_distances`` also computes the lateral distance of drones
        deep inside (slower; for displays, not for the tick).
        """
        x = _float_array(x_m)
        y = _float_array(y_m)
        n = len(batch)
        if x.shape != (n,) or y.shape != (n,):
            raise ValueError(f"x_m and y_m must have the batch's length {n}")
        vi = batch.volume_index
        if n and (vi.min() < -1 or vi.max() >= len(self.volumes)):
            raise ValueError(
                f"volume_index must be -1 or in [0, {len(self.volumes)}), "
                f"got values in [{vi.min()}, {vi.max()}]"
            )

        state = np.full(n, ConformanceState.UNASSIGNED, dtype=np.int8)
        outside_lat = np.zeros(n, dtype=bool)
        outside_vert = np.zeros(n, dtype=bool)
        lat_dist = np.full(n, np.nan)
        lat_exact = np.zeros(n, dtype=bool)
        vert_dist = np.full(n, np.nan)
        to_exit = np.full(n, np.nan)
        inside = np.zeros(n, dtype=bool)

        # The assigned drones in volume order: every per-volume lookup below then
        # walks one volume's data at a time instead of hopping between them.
        order = np.argsort(
            vi.astype(np.int16) if len(self.volumes) < 2**15 else vi, kind="stable"
        )
        rows = order[np.searchsorted(vi[order], 0) :]
        part = self._assigned(
            x[rows],
            y[rows],
            batch.alt_amsl_m[rows],
            batch.vn_mps[rows],
            batch.ve_mps[rows],
            batch.vd_mps[rows],
            vi[rows],
            exact_distances,
        )
        state[rows] = part.state
        outside_lat[rows] = part.outside_lateral
        outside_vert[rows] = part.outside_vertical
        lat_dist[rows] = part.lateral_distance_m
        lat_exact[rows] = part.lateral_distance_exact
        vert_dist[rows] = part.vertical_distance_m
        to_exit[rows] = part.seconds_to_exit
        inside[rows] = part.inside

        outside_bound = self._outside_boundary(x, y, batch.alt_amsl_m, vi, inside)
        state[outside_bound] = ConformanceState.OUTSIDE_BOUNDARY
        in_zone = self._in_exclusion(x, y, batch.alt_amsl_m)
        state[in_zone >= 0] = ConformanceState.IN_EXCLUSION

        return ConformanceResult(
            drone_id=batch.drone_id,
            volume_index=vi,
            state=state,
            outside_lateral=outside_lat,
            outside_vertical=outside_vert,
            outside_boundary=outside_bound,
            in_exclusion=in_zone,
            lateral_distance_m=lat_dist,
            lateral_distance_exact=lat_exact,
            vertical_distance_m=vert_dist,
            seconds_to_exit=to_exit,
        )

    # -- assigned volumes -----------------------------------------------------------

    def _assigned(
        self,
        x: FloatArray,
        y: FloatArray,
        alt: FloatArray,
        vn: FloatArray,
        ve: FloatArray,
        vd: FloatArray,
        vi: IntArray,
        exact_distances: bool,
    ) -> _Assigned:
        """Return the volume checks of drones that all have a volume."""
        # Lateral: the raster settles most drones; the rest meet GEOS, and every
        # drone not certainly deep gets an exact distance.
        clearance = self._clearance.lookup(vi, x, y)
        deep = clearance > self.near_edge_m
        in_outline = clearance > 0
        undecided = np.flatnonzero(clearance == 0)
        if undecided.size:
            in_outline[undecided] = self._contains(
                vi[undecided], x[undecided], y[undecided]
            )
        measure = np.arange(x.size) if exact_distances else np.flatnonzero(~deep)
        lat_dist = np.full(x.size, self.near_edge_m)
        lat_exact = np.zeros(x.size, dtype=bool)
        if measure.size:
            dist = self._boundary_distance(vi[measure], x[measure], y[measure])
            lat_dist[measure] = np.where(in_outline[measure], dist, -dist)
            lat_exact[measure] = True

        # Vertical, in the same volume.
        floor = self._floors[vi]
        ceiling = self._ceilings[vi]
        vert_dist = np.minimum(alt - floor, ceiling - alt)
        outside_vert = ~(vert_dist > 0)  # NaN altitude counts as outside
        outside_lat = ~in_outline

        inside = in_outline & ~outside_vert
        # A zero band is no band: a drone a rounding error inside is not near.
        near_lateral = ~deep & (lat_dist <= self.near_edge_m) & (self.near_edge_m > 0)
        near = inside & (near_lateral | (vert_dist <= self.near_edge_vertical_m))
        state = np.zeros(x.size, dtype=np.int8)
        state[near] = ConformanceState.NEAR_EDGE
        state[outside_vert] = ConformanceState.OUTSIDE_VERTICAL
        state[outside_lat] = ConformanceState.OUTSIDE_LATERAL

        # What is known of each drone's distance to its edge: exact, or the
        # raster's lower bound.
        known = np.where(lat_exact, lat_dist, clearance)
        to_exit = self._seconds_to_exit(
            inside, vi, x, y, alt, floor, ceiling, vn, ve, vd, known
        )
        return _Assigned(
            state=state,
            outside_lateral=outside_lat,
            outside_vertical=outside_vert,
            lateral_distance_m=lat_dist,
            lateral_distance_exact=lat_exact,
            vertical_distance_m=vert_dist,
            seconds_to_exit=to_exit,
            inside=inside,
        )

    def _contains(self, vi: IntArray, x: FloatArray, y: FloatArray) -> BoolArray:
        """Return whether each point is in its volume's outline (GEOS).

        The points go in volume order: GEOS then meets each prepared outline in one
        run instead of hopping between them (measured ~25 % faster).
        """
        if vi.size > 1 and np.any(vi[1:] < vi[:-1]):
            order = np.argsort(vi, kind="stable")
            inside = np.empty(vi.size, dtype=bool)
            inside[order] = shapely.contains_xy(
                self._outlines[vi[order]], x[order], y[order]
            )
            return inside
        return np.asarray(shapely.contains_xy(self._outlines[vi], x, y), dtype=bool)

    def _boundary_distance(
        self, vi: IntArray, x: FloatArray, y: FloatArray
    ) -> FloatArray:
        """Return the unsigned distance of each point to its volume's boundary."""
        dist = self._edges.near_distance(vi, x, y)
        far = np.flatnonzero(np.isnan(dist))
        if far.size:
            points = shapely.points(x[far], y[far])
            with np.errstate(invalid="ignore"):  # NaN positions give NaN distances
                dist[far] = shapely.distance(self._boundaries[vi[far]], points)
        return dist

    def _seconds_to_exit(
        self,
        inside: BoolArray,
        vi: IntArray,
        x: FloatArray,
        y: FloatArray,
        alt: FloatArray,
        floor: FloatArray,
        ceiling: FloatArray,
        vn: FloatArray,
        ve: FloatArray,
        vd: FloatArray,
        clearance: FloatArray,
    ) -> FloatArray:
        """Return seconds until each drone's straight path leaves its volume: 0 for
        drones not ``inside`` it.

        Vertical is exact from ``vd``. Lateral tests the look-ahead point
        ``p + v * horizon`` against the outline and, only for drones whose look-ahead
        point is outside, finds the first boundary crossing exactly. A path that
        leaves and re-enters within the horizon (cutting a bend) with its look-ahead
        point back inside is not predicted; the near-edge band catches it later.

        ``clearance`` is a lower bound on each drone's distance to its boundary: a
        drone that cannot cover it within the horizon keeps its look-ahead point
        inside, and is not tested at all.
        """
        horizon = self.horizon_s
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            climb = -vd
            t_vert = np.where(
                climb > 0,
                (ceiling - alt) / climb,
                np.where(climb < 0, (alt - floor) / -climb, np.inf),
            )
        t_vert[~(t_vert <= horizon)] = np.inf

        t_lat = np.full(x.size, np.inf)
        # Skipped when speed x horizon + slack < clearance, compared squared; NaN
        # or infinite speeds are tested, never skipped.
        margin = np.maximum(clearance - _LOOK_AHEAD_SLACK_M, 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            reach2 = (ve * ve + vn * vn) * (horizon * horizon)
            test = np.flatnonzero(inside & ~(reach2 < margin * margin))
        if test.size:
            v = vi[test]
            hx = x[test] + ve[test] * horizon
            hy = y[test] + vn[test] * horizon
            ahead = self._clearance.lookup(v, hx, hy)
            ahead_in = ahead > 0
            undecided = np.flatnonzero(ahead == 0)
            if undecided.size:
                ahead_in[undecided] = self._contains(
                    v[undecided], hx[undecided], hy[undecided]
                )
            leave = np.flatnonzero(~ahead_in)
            if leave.size:
                rows = test[leave]
                fraction = self._first_crossing(
                    v[leave], x[rows], y[rows], hx[leave], hy[leave]
                )
                t_lat[rows] = fraction * horizon
        return np.where(inside, np.minimum(t_vert, t_lat), 0.0)

    def _first_crossing(
        self,
        vi: IntArray,
        x0: FloatArray,
        y0: FloatArray,
        x1: FloatArray,
        y1: FloatArray,
    ) -> FloatArray:
        """Return, per segment, the fraction in [0, 1] where it first meets its
        volume's boundary. Each segment starts strictly inside and ends outside.

        The edge grid gives the candidate edges (those near the segment's bounding
        box); the exact segment-segment intersection is done in numpy on those pairs.
        """
        edges = self._edges.edges
        seg, edge = self._paths.path_candidates(vi, x0, y0, x1, y1)

        seg_dx, seg_dy = x1 - x0, y1 - y0
        px, py = x0[seg], y0[seg]
        dx, dy = seg_dx[seg], seg_dy[seg]
        ex = edges.ex[edge]
        ey = edges.ey[edge]
        wx = edges.x0[edge] - px
        wy = edges.y0[edge] - py
        denom = dx * ey - dy * ex
        scale = np.hypot(seg_dx, seg_dy)[seg] * edges.length[edge]
        eps = 1e-12
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            regular = np.abs(denom) > eps * scale
            t = (wx * ey - wy * ex) / denom
            u = (wx * dy - wy * dx) / denom
            crossing = regular & (t >= -eps) & (t <= 1 + eps)
            crossing &= (u >= -eps) & (u <= 1 + eps)
        first = np.full(x0.size, np.inf)
        np.minimum.at(first, seg[crossing], np.clip(t[crossing], 0.0, 1.0))
        # Only the (few, often no) parallel pairs can overlap collinearly.
        par = np.flatnonzero(~regular)
        if par.size:
            collinear, t_lo = _collinear_contact(
                dx[par], dy[par], ex[par], ey[par], wx[par], wy[par], eps
            )
            np.minimum.at(first, seg[par[collinear]], t_lo[collinear])
        missing = np.flatnonzero(~np.isfinite(first))
        if missing.size:
            # Floating point lost a grazing crossing; ask GEOS, else the look-ahead.
            segments = _segments(
                np.column_stack([x0[missing], y0[missing]]),
                np.column_stack([x1[missing], y1[missing]]),
            )
            first[missing] = self._crossing_by_geos(vi[missing], segments)
        return first

    def _crossing_by_geos(self, vi: IntArray, segments: GeomArray) -> FloatArray:
        hits = shapely.intersection(segments, self._boundaries[vi])
        coords, which = shapely.get_coordinates(hits, return_index=True)
        start = shapely.get_coordinates(shapely.get_point(segments, 0))
        end = shapely.get_coordinates(shapely.get_point(segments, 1))
        d = end - start
        along = np.einsum("ij,ij->i", coords - start[which], d[which]) / np.einsum(
            "ij,ij->i", d[which], d[which]
        )
        first = np.ones(segments.size)
        np.minimum.at(first, which, np.clip(along, 0.0, 1.0))
        return first

    # -- zones ----------------------------------------------------------------------

    def _outside_boundary(
        self,
        x: FloatArray,
        y: FloatArray,
        alt: FloatArray,
        vi: IntArray,
        inside: BoolArray,
    ) -> BoolArray:
        out = np.zeros(x.size, dtype=bool)
        boundary = self.boundary
        if boundary is None:
            return out
        known_in = inside & self._covered[np.maximum(vi, 0)]
        rows = np.flatnonzero(~known_in)
        if rows.size:
            a = alt[rows]
            within = (
                np.asarray(
                    shapely.contains_xy(boundary.outline, x[rows], y[rows]), dtype=bool
                )
                & (a > boundary.floor_amsl_m)
                & (a < boundary.ceiling_amsl_m)
            )
            out[rows] = ~within
        return out

    def _in_exclusion(self, x: FloatArray, y: FloatArray, alt: FloatArray) -> IntArray:
        zone_of = np.full(x.size, -1, dtype=np.int64)
        if not self.exclusions or not x.size:
            return zone_of
        if self._zone_tree is not None:
            return self._in_exclusion_tree(self._zone_tree, x, y, alt, zone_of)
        # Iterate from the last zone so the lowest index wins where zones overlap.
        for z in range(len(self.exclusions) - 1, -1, -1):
            xmin, ymin, xmax, ymax = self._zone_bounds[z]
            # A zone is small beside the site: its x-range leaves few drones, and
            # only those meet the other tests.
            rows = np.flatnonzero((x >= xmin) & (x <= xmax))
            ry, ra = y[rows], alt[rows]
            rows = rows[
                (ry >= ymin)
                & (ry <= ymax)
                & (ra > self._zone_floors[z])
                & (ra < self._zone_ceilings[z])
            ]
            if rows.size:
                hit = np.asarray(
                    shapely.contains_xy(self._zones[z], x[rows], y[rows]), dtype=bool
                )
                zone_of[rows[hit]] = z
        return zone_of

    def _in_exclusion_tree(
        self,
        tree: shapely.STRtree,
        x: FloatArray,
        y: FloatArray,
        alt: FloatArray,
        zone_of: IntArray,
    ) -> IntArray:
        xmin, ymin = self._zone_bounds[:, 0].min(), self._zone_bounds[:, 1].min()
        xmax, ymax = self._zone_bounds[:, 2].max(), self._zone_bounds[:, 3].max()
        rows = np.flatnonzero((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax))
        if not rows.size:
            return zone_of
        point, zone = tree.query(shapely.points(x[rows], y[rows]), predicate="within")
        a = alt[rows[point]]
        in_band = (a > self._zone_floors[zone]) & (a < self._zone_ceilings[zone])
        point, zone = point[in_band], zone[in_band]
        best = np.full(rows.size, len(self.exclusions), dtype=np.int64)
        np.minimum.at(best, point, zone)
        found = best < len(self.exclusions)
        zone_of[rows[found]] = best[found]
        return zone_of
