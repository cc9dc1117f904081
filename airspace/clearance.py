"""A cheap, certain lower bound on how far a point is inside its outline.

``ClearanceGrid`` rasters every outline once, at construction, into square cells
and keeps per cell only what holds for *every* point of the cell:

- ``value > 0``: the whole cell is in the outline's open interior, each point at
  least ``value`` metres from the boundary (a bound, capped at ``exact_m``);
- ``value < 0``: the whole cell is outside the open interior;
- ``value == 0``: the cell is within about a cell of the boundary; nothing is
  certain and the caller asks GEOS.

A lookup is a few numpy gathers per point, so the conformance engine can settle
most drones (deep inside, or with a look-ahead point deep inside or far outside)
without a point-in-polygon test. How the values are made certain:

- the distance of each cell centre to the boundary is exact (numpy, against every
  edge that can be within ``exact_m`` plus half a diagonal of it); a point of the
  cell is at most half a diagonal from the centre, so the cell's bound is the
  centre's distance less half a diagonal, less 1 mm for rounding;
- inside or outside is the parity of the boundary crossings left of the centre on
  its row, trusted only where the centre is more than half a diagonal from the
  boundary (so the whole cell is on one side and the parity is far from an edge);
- rows are stored between the first and last column that the outline's boundary
  reaches within the row's strip, plus one cell each side: a horizontal line
  through an inside point meets the boundary on both sides within the strip, so
  every other cell of the row is outside.

Everything is in the site's metric CRS. Pure: no I/O.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from airspace.arrays import FloatArray, IntArray, expand_ranges
from airspace.edges import BoundaryEdges, cell_numbers

MAX_CELLS = 1 << 22
"""Cells stored over all outlines (float32 each); a site too large for the
requested cell size gets coarser cells (looser bounds, same certainty)."""
_SAFETY_M = 1e-3
"""Taken off every bound: float32 storage and rounding in the distances."""
_ROW_SLACK_M = 1e-6
"""Strips are grown by this much when finding a row's extent: a point rounded into
the neighbouring row is still covered."""
_OUTSIDE = -1.0

_EdgeRows = tuple[IntArray, IntArray, IntArray]
"""Edge, row within its outline, and global row of each (edge, row strip) pair."""


class ClearanceGrid:
    """Per outline, a raster of certain clearance (see the module docstring).

    ``cell_m`` is the requested cell size, ``exact_m`` the depth up to which the
    bound follows the true distance; deeper cells get ``exact_m``.
    """

    def __init__(self, edges: BoundaryEdges, cell_m: float, exact_m: float) -> None:
        if not cell_m > 0 or not exact_m > 0:
            raise ValueError(f"cell {cell_m} m and exact depth {exact_m} m must be > 0")
        self.exact_m = float(exact_m)
        cell = float(cell_m)
        while True:
            edge_rows = self._lay_out_rows(edges, cell)
            total = int(self.row_length.sum())
            if total <= MAX_CELLS:
                break
            cell *= 1.1 * math.sqrt(total / MAX_CELLS)
        self.cells = total
        # One spare value past the end, certainly outside: a lookup that lands on no
        # stored cell reads it instead of branching.
        self._values_ext = np.append(
            self._values(edges, edge_rows), np.float32(_OUTSIDE)
        )
        self.values: npt.NDArray[np.float32] = self._values_ext[:-1]
        self._lay_out_lookup()

    # -- construction ---------------------------------------------------------------

    def _lay_out_rows(self, edges: BoundaryEdges, cell: float) -> _EdgeRows:
        """Set the cell size, each outline's rows and each row's stored columns;
        return the (edge, row) pairs of edges reaching each row's strip."""
        self.cell_m = cell
        bounds = edges.bounds
        # One spare cell all round: points that round across the outline's bounding
        # box still land in a row and column that is certainly outside.
        self.ox: FloatArray = bounds[:, 0] - cell
        self.oy: FloatArray = bounds[:, 1] - cell
        self.row_count: IntArray = (
            np.floor((bounds[:, 3] - self.oy) / cell).astype(np.int64) + 2
        )
        self.row0: IntArray = np.cumsum(self.row_count) - self.row_count
        rows = int(self.row_count.sum())
        self.row_volume: IntArray = np.repeat(
            np.arange(self.row_count.size), self.row_count
        )

        # Each edge's x-extent within each row strip it reaches (grown by a hair).
        v = edges.volume
        oy = self.oy[v]
        low = np.minimum(edges.y0, edges.y1)
        high = np.maximum(edges.y0, edges.y1)
        r0 = cell_numbers(low - _ROW_SLACK_M, oy, cell)
        r1 = cell_numbers(high + _ROW_SLACK_M, oy, cell)
        edge, row = expand_ranges(r0, r1 - r0 + 1)
        strip_lo = oy[edge] + row * cell - _ROW_SLACK_M
        x_lo, x_hi = _x_extent(
            edges, edge, strip_lo, strip_lo + cell + 2 * _ROW_SLACK_M
        )
        at = self.row0[v[edge]] + row
        span_lo = np.full(rows, np.inf)
        span_hi = np.full(rows, -np.inf)
        np.minimum.at(span_lo, at, x_lo)
        np.maximum.at(span_hi, at, x_hi)

        reached = span_lo <= span_hi
        ox = self.ox[self.row_volume]
        lo = np.where(reached, np.floor((span_lo - ox) / cell) - 1, 0.0)
        hi = np.where(reached, np.floor((span_hi - ox) / cell) + 1, -1.0)
        self.col_lo: IntArray = lo.astype(np.int64)
        self.col_hi: IntArray = hi.astype(np.int64)
        self.row_length: IntArray = self.col_hi - self.col_lo + 1
        self.row_start: IntArray = np.cumsum(self.row_length) - self.row_length
        return edge, row, at

    def _values(
        self, edges: BoundaryEdges, edge_rows: _EdgeRows
    ) -> npt.NDArray[np.float32]:
        cell = self.cell_m
        half_diagonal = cell * math.sqrt(0.5) * (1 + 1e-9) + 1e-6
        inside = self._centre_parity(edges, edge_rows) == 1
        reach = self.exact_m + half_diagonal
        d2 = self._centre_distance2(edges, reach)
        dist = np.sqrt(d2)
        clear = np.minimum(dist, reach) - half_diagonal - _SAFETY_M
        values = np.where(
            inside & (clear > 0),
            clear,
            np.where(~inside & (dist > half_diagonal), _OUTSIDE, 0.0),
        )
        return values.astype(np.float32)

    def _centre_parity(self, edges: BoundaryEdges, edge_rows: _EdgeRows) -> IntArray:
        """Return, per stored cell, the parity of boundary crossings left of its
        centre on the row's centre line (1: inside, where the centre is clear of
        the boundary)."""
        cell = self.cell_m
        edge, row, at = edge_rows
        v = edges.volume[edge]
        y = self.oy[v] + (row + 0.5) * cell
        y0, y1 = edges.y0[edge], edges.y1[edge]
        # Half-open in y, so a vertex on the line is counted once per ring.
        crosses = np.flatnonzero((y0 <= y) != (y1 <= y))
        e = edge[crosses]
        x = edges.x0[e] + (y[crosses] - y0[crosses]) * edges.ex[e] / edges.ey[e]
        row_at = at[crosses]
        # The first centre strictly right of the crossing.
        col = np.floor((x - self.ox[v[crosses]]) / cell - 0.5).astype(np.int64) + 1
        keep = col <= self.col_hi[row_at]
        slot = self.row_start[row_at[keep]] + col[keep] - self.col_lo[row_at[keep]]
        toggles = np.bincount(slot, minlength=self.cells)
        running = np.cumsum(toggles)
        before = np.concatenate([[0], running])[self.row_start]
        return np.asarray(
            (running - np.repeat(before, self.row_length)) & 1, dtype=np.int64
        )

    def _centre_distance2(self, edges: BoundaryEdges, reach: float) -> FloatArray:
        """Return, per stored cell, the squared distance of its centre to the
        boundary where that is at most ``reach`` (inf elsewhere, or beyond)."""
        cell = self.cell_m
        v = edges.volume
        oy = self.oy[v]
        low = np.minimum(edges.y0, edges.y1)
        high = np.maximum(edges.y0, edges.y1)
        # Rows whose centre line is within reach of the edge's y-extent.
        r0 = np.maximum(np.ceil((low - reach - oy) / cell - 0.5), 0).astype(np.int64)
        r1 = np.minimum(
            np.floor((high + reach - oy) / cell - 0.5), self.row_count[v] - 1
        ).astype(np.int64)
        edge, row = expand_ranges(r0, np.maximum(r1 - r0 + 1, 0))
        at = self.row0[v[edge]] + row
        y = oy[edge] + (row + 0.5) * cell
        x_lo, x_hi = _x_extent(edges, edge, y - reach, y + reach)
        ox = self.ox[v[edge]]
        c0 = np.maximum(np.ceil((x_lo - reach - ox) / cell - 0.5), self.col_lo[at])
        c1 = np.minimum(np.floor((x_hi + reach - ox) / cell - 0.5), self.col_hi[at])
        count = np.maximum(c1 - c0 + 1, 0).astype(np.int64)
        pair, col = expand_ranges(c0.astype(np.int64), count)
        e = edge[pair]
        centre_x = ox[pair] + (col + 0.5) * cell
        d2 = edges.distance2(e, centre_x, y[pair])
        best = np.full(self.cells, np.inf)
        np.minimum.at(best, self.row_start[at[pair]] + col - self.col_lo[at[pair]], d2)
        return best

    def _lay_out_lookup(self) -> None:
        """Set the lookup's row tables: each outline's rows between an empty row
        below and one above, so a row number clipped to ``[-1, row_count]`` needs
        no test of its own."""
        volumes = self.row_count.size
        self._lookup_row0: IntArray = self.row0 + 2 * np.arange(volumes) + 1
        self._last_row: FloatArray = self.row_count.astype(np.float64)
        at = np.arange(self.row_volume.size) + 2 * self.row_volume + 1
        size = self.row_volume.size + 2 * volumes
        self._lookup_col_lo: IntArray = np.zeros(size, np.int64)
        self._lookup_col_lo[at] = self.col_lo
        # Lengths as unsigned: ``col - col_lo`` below the row's first column wraps
        # to a huge number, so one comparison tests both ends of the row.
        self._lookup_length = np.zeros(size, np.uint64)
        self._lookup_length[at] = self.row_length
        self._lookup_start: IntArray = np.zeros(size, np.int64)
        self._lookup_start[at] = self.row_start

    # -- lookup ---------------------------------------------------------------------

    def lookup(self, vi: IntArray, x: FloatArray, y: FloatArray) -> FloatArray:
        """Return each point's cell value for its volume ``vi`` (see the class).

        A NaN coordinate, or a point off its outline's raster, is outside (-1).
        """
        cell = self.cell_m
        # fmax/fmin drop NaN in favour of the bound: a NaN row lands on the empty
        # row below.
        row = np.fmin(
            np.fmax(np.floor((y - self.oy[vi]) / cell), -1.0), self._last_row[vi]
        ).astype(np.int64)
        at = self._lookup_row0[vi] + row
        col = cell_numbers(x, self.ox[vi], cell) - self._lookup_col_lo[at]
        stored = col.view(np.uint64) < self._lookup_length[at]
        slot = np.where(stored, self._lookup_start[at] + col, self.cells)
        return self._values_ext[slot].astype(np.float64)


def _x_extent(
    edges: BoundaryEdges, edge: IntArray, y_lo: FloatArray, y_hi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return the x-extent of each edge's part with ``y_lo <= y <= y_hi``, or of
    an end point when none (rounding): a superset either way."""
    x0, y0, ex, ey = edges.x0[edge], edges.y0[edge], edges.ex[edge], edges.ey[edge]
    flat = ey == 0
    safe = np.where(flat, 1.0, ey)
    ta = np.where(flat, 0.0, (y_lo - y0) / safe)
    tb = np.where(flat, 1.0, (y_hi - y0) / safe)
    t_lo = np.clip(np.minimum(ta, tb), 0.0, 1.0)
    t_hi = np.clip(np.maximum(ta, tb), 0.0, 1.0)
    xa = x0 + t_lo * ex
    xb = x0 + t_hi * ex
    return np.minimum(xa, xb), np.maximum(xa, xb)
