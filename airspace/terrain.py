"""Which terrain a position is over: water, open land or dense urban.

For test-condition records (signal quality over water and among tall buildings).
A point inside a corridor with a ``terrain`` class takes that class; inside an
over-water corridor it is water (for a centre-line corridor only along its
``over_water_segments``, when given); anywhere else it is open land. Where
corridors overlap, the first in the site file with an answer wins. Pure and
vectorised: site-metric arrays in, one class per point out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString

from airspace.site import Corridor, Site, Terrain


def _water_area(corridor: Corridor, site: Site) -> shapely.Geometry:
    """The part of the corridor over water (its whole outline unless segments say)."""
    outline = corridor.volume.outline
    line = site.projection.geometry_to_metric(corridor.geometry_lonlat)
    if not corridor.over_water_segments or not isinstance(line, LineString):
        return outline
    coords = list(line.coords)
    width = corridor.half_width_m or 0.0
    parts = [
        LineString(coords[i : i + 2]).buffer(width, cap_style="flat")
        for i in corridor.over_water_segments
    ]
    return shapely.intersection(shapely.union_all(parts), outline)


def terrain_at(
    site: Site, x_m: npt.ArrayLike, y_m: npt.ArrayLike
) -> npt.NDArray[np.str_]:
    """Return the terrain class (``Terrain`` values) of each site-metric point."""
    xs = np.asarray(x_m, dtype=np.float64)
    ys = np.asarray(y_m, dtype=np.float64)
    out = np.full(xs.shape, Terrain.OPEN.value, dtype=object)
    decided = np.zeros(xs.shape, dtype=bool)
    for corridor in site.corridors:
        area: shapely.Geometry
        if corridor.terrain is not None:
            area, value = corridor.volume.outline, corridor.terrain.value
        elif corridor.over_water:
            area, value = _water_area(corridor, site), Terrain.WATER.value
        else:
            continue
        hit = ~decided & shapely.contains_xy(area, xs, ys)
        out[hit] = value
        decided |= hit
    return out.astype(str)
