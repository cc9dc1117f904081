"""The numpy array types of the vectorised geometry, and ragged index expansion.

The conformance engine and its grids (``airspace.edges``, ``airspace.clearance``)
work on whole batches of points at once; these are the array types they pass and
the one index trick they all use to turn "point i has ``counts[i]`` candidates"
into flat pairs without a Python loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
GeomArray = npt.NDArray[np.object_]


def float_array(values: npt.ArrayLike) -> FloatArray:
    """Return ``values`` as float64 (no copy when they already are)."""
    return np.asarray(values, dtype=np.float64)


def expand_ranges(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Return ``(owner, index)``: ``counts[i]`` pairs ``(i, starts[i] + j)`` per i.

    ``counts`` must be >= 0; pairs come in order of ``i``, then ``j``.
    """
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.cumsum(counts) - counts
    index = np.repeat(starts - first, counts) + np.arange(owner.size)
    return owner, index
