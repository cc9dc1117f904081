"""The boundary edges of a set of outlines, and a grid that finds them near a point
or along a path.

Every ring (exterior and holes) of every outline becomes straight segments tagged
with their outline's index. ``EdgeGrid`` lays a square grid over each outline's
bounding box and lists, per cell, that outline's segments within ``reach_m`` of the
cell. Two questions are then answered in numpy, with no geometry object per point:

- the exact distance from a point to its own outline's boundary, when it is within
  ``reach_m`` (the minimum over the point's cell's list);
- which segments of its own outline a straight path may cross (the lists of every
  cell of the path's bounding box: a superset of the segments it crosses).

Everything is in the site's metric CRS. Pure: no I/O.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from airspace.arrays import FloatArray, GeomArray, IntArray, expand_ranges

MAX_GRID_CELLS = 1 << 21
"""Cells of one grid over all outlines; a site too large for the requested cell
size gets coarser cells (longer lists per cell, same answers)."""
_SLACK = 1e-9
"""Relative slack on a cell's size: a point rounded into the neighbouring cell is
still covered."""
_SLACK_M = 1e-6
"""Edges this close to a cell are listed too: the crossing test's tolerance is far
below it."""


class BoundaryEdges:
    """Every segment of every ring of ``outlines`` (a 1-D array of polygons).

    Segment ``i`` runs from ``(x0[i], y0[i])`` to ``(x1[i], y1[i])`` on the boundary
    of outline ``volume[i]``; ``ex, ey`` is its direction, ``length`` its length
    and ``len2`` its squared length; ``x_min`` ... ``y_max`` its bounding box.
    ``bounds`` holds each outline's ``(xmin, ymin, xmax, ymax)``.
    """

    def __init__(self, outlines: GeomArray) -> None:
        rings, ring_volume = shapely.get_rings(outlines, return_index=True)
        coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        same_ring = coord_ring[:-1] == coord_ring[1:]
        start = coords[:-1][same_ring]
        end = coords[1:][same_ring]
        self.volume: IntArray = np.asarray(ring_volume, np.int64)[
            coord_ring[:-1][same_ring]
        ]
        self.x0: FloatArray = start[:, 0].copy()
        self.y0: FloatArray = start[:, 1].copy()
        self.x1: FloatArray = end[:, 0].copy()
        self.y1: FloatArray = end[:, 1].copy()
        self.ex: FloatArray = self.x1 - self.x0
        self.ey: FloatArray = self.y1 - self.y0
        self.len2: FloatArray = self.ex * self.ex + self.ey * self.ey
        self.length: FloatArray = np.hypot(self.ex, self.ey)
        # 0 for a zero-length edge: its distance is to its start point.
        with np.errstate(divide="ignore"):
            self._inv_len2 = np.where(self.len2 > 0, 1.0 / self.len2, 0.0)
        self.x_min: FloatArray = np.minimum(self.x0, self.x1)
        self.x_max: FloatArray = np.maximum(self.x0, self.x1)
        self.y_min: FloatArray = np.minimum(self.y0, self.y1)
        self.y_max: FloatArray = np.maximum(self.y0, self.y1)
        self.bounds: FloatArray = np.asarray(
            shapely.bounds(outlines), dtype=np.float64
        ).reshape(-1, 4)

    def __len__(self) -> int:
        return int(self.x0.size)

    def distance2(self, edge: IntArray, px: FloatArray, py: FloatArray) -> FloatArray:
        """Return squared distances from points to edges, pairwise."""
        x0, y0, ex, ey = self.x0[edge], self.y0[edge], self.ex[edge], self.ey[edge]
        along = ((px - x0) * ex + (py - y0) * ey) * self._inv_len2[edge]
        t = np.minimum(np.maximum(along, 0.0), 1.0)
        dx = x0 + t * ex - px
        dy = y0 + t * ey - py
        return np.asarray(dx * dx + dy * dy, dtype=np.float64)


def cell_numbers(values: FloatArray, origin: FloatArray, cell_m: float) -> IntArray:
    """Return ``floor((values - origin) / cell_m)`` as int64; NaN gives -1 and
    values far off any grid are clipped (they land outside it either way)."""
    # fmax/fmin drop NaN in favour of the bound: NaN and -inf give -1.
    cell = np.fmin(np.fmax(np.floor((values - origin) / cell_m), -1.0), 2.0**40)
    return cell.astype(np.int64)


class EdgeGrid:
    """Per outline, a square grid listing the outline's edges near each cell.

    The grid covers the outline's bounding box grown by ``reach_m``. Cell
    ``(col, row)`` of outline ``v`` covers ``x`` in ``[ox[v] + col * cell_m,
    ox[v] + (col + 1) * cell_m)`` and likewise ``y``; its list holds every edge of
    ``v`` that comes within ``reach_m`` of some point of the cell.
    """

    def __init__(self, edges: BoundaryEdges, reach_m: float, cell_m: float) -> None:
        if not reach_m >= 0 or not cell_m > 0:
            raise ValueError(f"reach {reach_m} m must be >= 0, cell {cell_m} m > 0")
        self.edges = edges
        self.reach_m = float(reach_m)
        # The grid reaches out from the outline as far as the distances it answers.
        bounds = edges.bounds + np.array([-reach_m, -reach_m, reach_m, reach_m])
        width = bounds[:, 2] - bounds[:, 0]
        height = bounds[:, 3] - bounds[:, 1]
        area = float(((width + cell_m) * (height + cell_m)).sum())
        self.cell_m = max(float(cell_m), math.sqrt(area / MAX_GRID_CELLS))
        cell = self.cell_m
        self.ox: FloatArray = bounds[:, 0].copy()
        self.oy: FloatArray = bounds[:, 1].copy()
        self.columns: IntArray = np.floor(width / cell).astype(np.int64) + 1
        self.rows: IntArray = np.floor(height / cell).astype(np.int64) + 1
        self._last_col: FloatArray = (self.columns - 1).astype(np.float64)
        self._last_row: FloatArray = (self.rows - 1).astype(np.float64)
        sizes = self.columns * self.rows
        self.first: IntArray = np.cumsum(sizes) - sizes
        total = int(sizes.sum())

        # Every cell of each edge's bounding box grown by the reach (and a hair),
        # then only the cells the edge can reach.
        v = edges.volume
        reach = self.reach_m + _SLACK_M
        c0 = self._clip_col(edges.x_min - reach, v)
        c1 = self._clip_col(edges.x_max + reach, v)
        r0 = self._clip_row(edges.y_min - reach, v)
        r1 = self._clip_row(edges.y_max + reach, v)
        nc = c1 - c0 + 1
        edge, k = expand_ranges(np.zeros(nc.size, np.int64), nc * (r1 - r0 + 1))
        col = c0[edge] + k % nc[edge]
        row = r0[edge] + k // nc[edge]
        ve = v[edge]
        centre_x = self.ox[ve] + (col + 0.5) * cell
        centre_y = self.oy[ve] + (row + 0.5) * cell
        if self.reach_m > 0:
            # A point of the cell within reach: the centre within reach plus half a
            # diagonal.
            near = reach + cell * math.sqrt(0.5) * (1 + _SLACK)
            keep = edges.distance2(edge, centre_x, centre_y) <= near * near
        else:
            # The edge passes through the cell: its line meets the square (the
            # bounding boxes already overlap).
            ex, ey = edges.ex[edge], edges.ey[edge]
            side = (centre_x - edges.x0[edge]) * ey - (centre_y - edges.y0[edge]) * ex
            half = (np.abs(ex) + np.abs(ey)) * (0.5 * cell * (1 + _SLACK))
            keep = np.abs(side) <= half + _SLACK_M * edges.length[edge]
        flat = (self.first[ve] + row * self.columns[ve] + col)[keep]
        order = np.argsort(flat, kind="stable")
        self.cell_edges: IntArray = edge[keep][order]
        self.counts: IntArray = np.bincount(flat, minlength=total).astype(np.int64)
        self.starts: IntArray = np.cumsum(self.counts) - self.counts

    def _clip_col(self, x: FloatArray, v: IntArray) -> IntArray:
        return _clipped_cells(x, self.ox[v], self.cell_m, self._last_col[v])

    def _clip_row(self, y: FloatArray, v: IntArray) -> IntArray:
        return _clipped_cells(y, self.oy[v], self.cell_m, self._last_row[v])

    def near_distance(self, vi: IntArray, x: FloatArray, y: FloatArray) -> FloatArray:
        """Return each point's distance to its volume's boundary where it is at
        most ``reach_m``, NaN where the point is farther (or off the grid)."""
        col = cell_numbers(x, self.ox[vi], self.cell_m)
        row = cell_numbers(y, self.oy[vi], self.cell_m)
        on_grid = (
            (col >= 0) & (col < self.columns[vi]) & (row >= 0) & (row < self.rows[vi])
        )
        flat = np.where(on_grid, self.first[vi] + row * self.columns[vi] + col, 0)
        counts = np.where(on_grid, self.counts[flat], 0)
        point, slot = expand_ranges(self.starts[flat], counts)
        d2 = self.edges.distance2(self.cell_edges[slot], x[point], y[point])
        best = np.full(x.size, np.inf)
        has = np.flatnonzero(counts)
        if has.size:
            best[has] = np.minimum.reduceat(d2, (np.cumsum(counts) - counts)[has])
        dist = np.sqrt(best)
        dist[~(dist <= self.reach_m)] = np.nan
        return np.asarray(dist, dtype=np.float64)

    def path_candidates(
        self,
        vi: IntArray,
        x0: FloatArray,
        y0: FloatArray,
        x1: FloatArray,
        y1: FloatArray,
    ) -> tuple[IntArray, IntArray]:
        """Return ``(path, edge)`` pairs: for each straight path from ``(x0, y0)``
        to ``(x1, y1)``, the edges of its volume whose bounding box meets the
        path's (so every edge it meets; a pair may repeat)."""
        x_lo, x_hi = np.minimum(x0, x1), np.maximum(x0, x1)
        y_lo, y_hi = np.minimum(y0, y1), np.maximum(y0, y1)
        c0 = self._clip_col(x_lo, vi)
        r0 = self._clip_row(y_lo, vi)
        nc = self._clip_col(x_hi, vi) - c0 + 1
        columns = self.columns[vi]
        # Each path's cells, row by row from its first cell.
        path, k = expand_ranges(
            np.zeros(vi.size, np.int64), nc * (self._clip_row(y_hi, vi) - r0 + 1)
        )
        row, col = np.divmod(k, nc[path])
        flat = (self.first[vi] + r0 * columns + c0)[path] + row * columns[path] + col
        owner, slot = expand_ranges(self.starts[flat], self.counts[flat])
        path, edge = path[owner], self.cell_edges[slot]
        # Bounding boxes that meet (touching counts), as an STRtree query would.
        e = self.edges
        meet = (e.x_min[edge] <= x_hi[path]) & (e.x_max[edge] >= x_lo[path])
        meet &= (e.y_min[edge] <= y_hi[path]) & (e.y_max[edge] >= y_lo[path])
        return path[meet], edge[meet]


def _clipped_cells(
    values: FloatArray, origin: FloatArray, cell_m: float, last: FloatArray
) -> IntArray:
    """Return ``cell_numbers`` clipped to ``[0, last]``, clipped while still float
    (NaN gives 0, as -1 clipped would)."""
    cell = np.fmin(np.fmax(np.floor((values - origin) / cell_m), 0.0), last)
    return cell.astype(np.int64)
