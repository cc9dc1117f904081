"""The one metric CRS of a site: lon/lat (WGS84) in, metres out.

Everything downstream of a site works in the site's metric CRS (a local grid such as
the Hong Kong 1980 Grid, EPSG:2326, or the UTM zone of the reference point). Geometry
is never buffered or measured in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from pyproj.exceptions import CRSError

from airspace.errors import UnknownCrsError

FloatArray = npt.NDArray[np.float64]
G = TypeVar("G", bound=shapely.Geometry)

AUTO_UTM = "auto"


def resolve_crs(crs: str, ref_lon_deg: float, ref_lat_deg: float) -> str:
    """Return an authority string (``EPSG:NNNN``) for ``crs``.

    ``"auto"`` picks the WGS84 UTM zone that holds the reference point; anything else
    must be a projected CRS PROJ knows, or ``UnknownCrsError`` is raised.
    """
    if crs.strip().lower() == AUTO_UTM:
        infos = query_utm_crs_info(
            datum_name="WGS 84",
            area_of_interest=AreaOfInterest(
                ref_lon_deg, ref_lat_deg, ref_lon_deg, ref_lat_deg
            ),
        )
        if not infos:
            raise UnknownCrsError(
                f"no UTM zone covers the reference point {ref_lon_deg}, {ref_lat_deg}"
            )
        return f"{infos[0].auth_name}:{infos[0].code}"
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as exc:
        raise UnknownCrsError(f"unknown CRS {crs!r}: {exc}") from exc
    if not parsed.is_projected:
        raise UnknownCrsError(
            f"CRS {crs!r} is not projected (metres are needed, e.g. EPSG:2326 or auto)"
        )
    authority = parsed.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else parsed.to_string()


@dataclass(frozen=True)
class SiteProjection:
    """Transforms between WGS84 lon/lat degrees and the site's metric CRS."""

    crs: str
    _forward: Transformer = field(init=False, repr=False, compare=False)
    _inverse: Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            forward = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
            inverse = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        except CRSError as exc:
            raise UnknownCrsError(f"unknown CRS {self.crs!r}: {exc}") from exc
        object.__setattr__(self, "_forward", forward)
        object.__setattr__(self, "_inverse", inverse)

    def to_metric(
        self, lon_deg: npt.ArrayLike, lat_deg: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Return site-metric ``(x_m, y_m)`` arrays for WGS84 lon/lat arrays."""
        x, y = self._forward.transform(
            np.asarray(lon_deg, dtype=np.float64), np.asarray(lat_deg, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_lonlat(
        self, x_m: npt.ArrayLike, y_m: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Return WGS84 ``(lon_deg, lat_deg)`` arrays for site-metric arrays."""
        lon, lat = self._inverse.transform(
            np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)
        )
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def geometry_to_metric(self, geom: G) -> G:
        """Return ``geom`` (lon/lat degrees) re-expressed in site metres."""
        return shapely.transform(geom, self._forward_coords)

    def geometry_to_lonlat(self, geom: G) -> G:
        """Return ``geom`` (site metres) re-expressed in lon/lat degrees."""
        return shapely.transform(geom, self._inverse_coords)

    def _forward_coords(self, coords: FloatArray) -> FloatArray:
        x, y = self.to_metric(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def _inverse_coords(self, coords: FloatArray) -> FloatArray:
        lon, lat = self.to_lonlat(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])
