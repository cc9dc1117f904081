"""Closest point of approach between drones and vessels, vectorised over every pair.

Pure NumPy in the site's metric CRS (metres east and north, seconds), straight-line
motion for both sides. For a drone A and a vessel B with relative position
``r = p_B - p_A`` and relative velocity ``w = v_B - v_A``:

* time to CPA ``TCPA = -(r . w) / |w|^2`` (negative: they are already diverging);
* distance at CPA ``DCPA = |r + w * max(TCPA, 0)|`` — for a diverging pair the
  closest point is now, so DCPA is the current range;
* ``|w| ~ 0`` (same velocity): the range never changes, so TCPA is 0 and DCPA the
  current range.

One call computes an N drones x M vessels matrix; a tick with 200 drones and 500
vessels is one set of array operations, no Python loop (``bench/ais_proximity.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

KNOT_MPS: Final = 0.514444
"""One knot in metres per second (1852 m / 3600 s)."""
_STILL_MPS2: Final = 1e-9
"""Relative speeds squared below this are "the same velocity" (no TCPA)."""


@dataclass(frozen=True, slots=True)
class CpaMatrix:
    """CPA figures for every (drone, vessel) pair: arrays of shape (N drones, M)."""

    range_m: FloatArray
    """Horizontal distance now."""
    tcpa_s: FloatArray
    """Seconds to the closest point; negative when diverging, 0 when parallel."""
    dcpa_m: FloatArray
    """Horizontal distance at the closest point from now on (never in the past)."""


def velocity_en(sog_mps: npt.ArrayLike, cog_deg: npt.ArrayLike) -> FloatArray:
    """Return (east, north) velocities in m/s, shape (M, 2), from speed and course.

    Course is degrees true, clockwise from north: 90 is east.
    """
    sog = np.asarray(sog_mps, dtype=np.float64)
    cog = np.radians(np.asarray(cog_deg, dtype=np.float64))
    return np.stack([sog * np.sin(cog), sog * np.cos(cog)], axis=-1)


def cpa_matrix(
    drone_xy: npt.ArrayLike,
    drone_v: npt.ArrayLike,
    vessel_xy: npt.ArrayLike,
    vessel_v: npt.ArrayLike,
) -> CpaMatrix:
    """Return CPA/TCPA for every drone against every vessel.

    All inputs are in the site's metric CRS: positions ``(N, 2)`` / ``(M, 2)`` metres
    (east, north), velocities in m/s (east, north). Empty inputs give empty matrices.
    """
    pa = np.asarray(drone_xy, dtype=np.float64).reshape(-1, 2)
    va = np.asarray(drone_v, dtype=np.float64).reshape(-1, 2)
    pb = np.asarray(vessel_xy, dtype=np.float64).reshape(-1, 2)
    vb = np.asarray(vessel_v, dtype=np.float64).reshape(-1, 2)
    rx = pb[None, :, 0] - pa[:, None, 0]
    ry = pb[None, :, 1] - pa[:, None, 1]
    wx = vb[None, :, 0] - va[:, None, 0]
    wy = vb[None, :, 1] - va[:, None, 1]
    w2 = wx * wx + wy * wy
    moving = w2 > _STILL_MPS2
    tcpa = np.zeros_like(w2)
    np.divide(-(rx * wx + ry * wy), w2, out=tcpa, where=moving)
    ahead = np.maximum(tcpa, 0.0)
    dcpa = np.hypot(rx + wx * ahead, ry + wy * ahead)
    return CpaMatrix(range_m=np.hypot(rx, ry), tcpa_s=tcpa, dcpa_m=dcpa)


def cpa_pair(
    drone_xy: tuple[float, float],
    drone_v: tuple[float, float],
    vessel_xy: tuple[float, float],
    vessel_v: tuple[float, float],
) -> tuple[float, float, float]:
    """Return ``(range_m, tcpa_s, dcpa_m)`` for one pair, in plain Python.

    The same algebra as :func:`cpa_matrix`, one pair at a time: the reference the
    tests and the benchmark compare the vectorised form against.
    """
    rx, ry = vessel_xy[0] - drone_xy[0], vessel_xy[1] - drone_xy[1]
    wx, wy = vessel_v[0] - drone_v[0], vessel_v[1] - drone_v[1]
    w2 = wx * wx + wy * wy
    tcpa = -(rx * wx + ry * wy) / w2 if w2 > _STILL_MPS2 else 0.0
    ahead = max(tcpa, 0.0)
    dcpa = float(np.hypot(rx + wx * ahead, ry + wy * ahead))
    return float(np.hypot(rx, ry)), tcpa, dcpa
