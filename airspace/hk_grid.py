"""Hong Kong 1980 Grid (EPSG:2326) positions and heights in metres above PD (mPD).

Positions: WGS84 lon/lat <-> HK1980 Grid easting/northing through pyproj with
``always_xy=True``. EPSG:2326 declares its axes as northing, easting; without
``always_xy`` a transformer would hand back (northing, easting) and a reader would
swap them. PROJ picks its best offline HK1980 <-> WGS84 operation (EPSG:1825, a
7-parameter Helmert, about 1 m).

Heights: PROJ has no offline transformation to Hong Kong Principal Datum (EPSG:5738),
so mPD comes from a per-site ``MpdReference``:

- ``approximate`` (the default): mean sea level is about +1.23 mPD (Chart Datum is
  0.146 m below PD and 1.38 m below MSL at Quarry Bay), so mPD = AMSL + 1.23;
- ``surveyed``: an offset between the drones' reported height and mPD measured at a
  benchmark near the pad, named in the label;
- ``geoid grid``: a grid file the user supplies (GTX or GeoTIFF, as PROJ reads it)
  whose value at a point is *added* to the reported height to give mPD, like the
  single offset but varying over the site (PROJ ``vgridshift +multiplier=1``). A
  grid of geoid separations N (ellipsoid minus PD, e.g. derived from HKGEOID-2000)
  is the same with its sign reversed; a point outside the grid is an error.

Every figure carries its reference's ``label`` so nobody takes an approximate mPD
for a surveyed one.

For pages that convert offline, ``local_grid_fit`` fits a quadratic in (dlon, dlat)
around a site's reference point to pyproj's answers, with the worst error over the
fitted square; the browser evaluates the same polynomial (``grid_from_fit``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pyproj import Transformer
from pyproj.exceptions import ProjError

HK1980_GRID = "EPSG:2326"
WGS84 = "EPSG:4326"
MSL_MPD_M = 1.23
"""Mean sea level in metres above Principal Datum (derived; approximate)."""

FloatArray = npt.NDArray[np.float64]


HK1980_AREA_DEG = (113.76, 22.13, 114.51, 22.58)
"""EPSG:2326's area of use (west, south, east, north), WGS84 degrees."""


def in_hk1980_area(
    lon_deg: float | FloatArray, lat_deg: float | FloatArray
) -> npt.NDArray[np.bool_]:
    """Return where positions fall inside the HK1980 Grid's area of use."""
    lon, lat = np.asarray(lon_deg), np.asarray(lat_deg)
    west, south, east, north = HK1980_AREA_DEG
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


@lru_cache(maxsize=2)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def to_hk1980(
    lon_deg: float | FloatArray, lat_deg: float | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return HK1980 Grid ``(easting_m, northing_m)`` for WGS84 lon/lat degrees."""
    e, n = _transformer(WGS84, HK1980_GRID).transform(lon_deg, lat_deg)
    return np.asarray(e, dtype=np.float64), np.asarray(n, dtype=np.float64)


def from_hk1980(
    easting_m: float | FloatArray, northing_m: float | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return WGS84 ``(lon_deg, lat_deg)`` for HK1980 Grid easting/northing metres."""
    lon, lat = _transformer(HK1980_GRID, WGS84).transform(easting_m, northing_m)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


class MpdMethod(enum.StrEnum):
    """How a site turns reported heights into mPD."""

    APPROXIMATE = "approximate"
    SURVEYED = "surveyed"
    GEOID_GRID = "geoid grid"


@dataclass(frozen=True)
class MpdReference:
    """How one site turns the drones' reported height (m AMSL) into mPD."""

    method: MpdMethod = MpdMethod.APPROXIMATE
    offset_m: float = MSL_MPD_M
    """mPD = reported + offset (approximate and surveyed)."""
    benchmark: str = ""
    """Where the offset was surveyed (surveyed only)."""
    grid_path: Path | None = None
    """The geoid grid file (geoid grid only)."""

    @classmethod
    def surveyed(cls, offset_m: float, benchmark: str) -> MpdReference:
        """Return a reference surveyed at ``benchmark`` (mPD = reported + offset)."""
        return cls(MpdMethod.SURVEYED, offset_m, benchmark.strip() or "a benchmark")

    @classmethod
    def geoid_grid(cls, path: Path) -> MpdReference:
        """Return a reference that adds the value of the grid file at ``path``."""
        return cls(MpdMethod.GEOID_GRID, 0.0, "", path)

    @property
    def label(self) -> str:
        """Return the words shown next to every mPD figure."""
        match self.method:
            case MpdMethod.APPROXIMATE:
                return f"mPD approx. (MSL ≈ +{self.offset_m:g} mPD, not surveyed)"
            case MpdMethod.SURVEYED:
                return f"mPD (offset {self.offset_m:+g} m surveyed at {self.benchmark})"
            case MpdMethod.GEOID_GRID:
                name = self.grid_path.name if self.grid_path else "?"
                return f"mPD (geoid grid {name})"

    def to_mpd(
        self,
        height_m: float | FloatArray,
        lon_deg: float | FloatArray,
        lat_deg: float | FloatArray,
    ) -> FloatArray:
        """Return mPD heights for reported heights at the given positions."""
        h = np.asarray(height_m, dtype=np.float64)
        if self.method is not MpdMethod.GEOID_GRID:
            return h + self.offset_m
        if self.grid_path is None:  # pragma: no cover - geoid_grid() sets it
            raise ValueError("a geoid grid reference needs its grid file")
        pipeline = f"+proj=vgridshift +grids={self.grid_path} +multiplier=1"
        try:
            _, _, z = Transformer.from_pipeline(pipeline).transform(
                lon_deg, lat_deg, h, errcheck=True
            )
        except ProjError as exc:
            raise ValueError(
                f"no mPD from geoid grid {self.grid_path.name}: {exc}"
            ) from exc
        return np.asarray(z, dtype=np.float64)


@dataclass(frozen=True)
class GridFit:
    """A quadratic HK1980 fit around one point, for offline use in pages.

    ``easting = sum(e[i] * term[i])`` with terms ``1, x, y, x*x, x*y, y*y`` where
    ``x = lon - ref_lon`` and ``y = lat - ref_lat`` in degrees (northing alike).
    """

    ref_lon_deg: float
    ref_lat_deg: float
    easting_terms: tuple[float, ...]
    northing_terms: tuple[float, ...]
    half_size_deg: float
    max_error_m: float
    """Worst difference from pyproj over a finer check grid of the fitted square."""


def _terms(x: FloatArray, y: FloatArray) -> FloatArray:
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def local_grid_fit(
    ref_lon_deg: float, ref_lat_deg: float, half_size_deg: float = 0.05
) -> GridFit:
    """Return a quadratic fit of the HK1980 Grid over ``ref ± half_size_deg``.

    0.05° is about 5 km each way: a test site and its surroundings.
    """
    side = np.linspace(-half_size_deg, half_size_deg, 11)
    x, y = (a.ravel() for a in np.meshgrid(side, side))
    e, n = to_hk1980(ref_lon_deg + x, ref_lat_deg + y)
    a = _terms(x, y)
    ce = np.linalg.lstsq(a, e, rcond=None)[0]
    cn = np.linalg.lstsq(a, n, rcond=None)[0]
    check = np.linspace(-half_size_deg, half_size_deg, 23)
    cx, cy = (v.ravel() for v in np.meshgrid(check, check))
    ee, nn = to_hk1980(ref_lon_deg + cx, ref_lat_deg + cy)
    ct = _terms(cx, cy)
    error = np.hypot(ct @ ce - ee, ct @ cn - nn).max()
    return GridFit(
        ref_lon_deg,
        ref_lat_deg,
        tuple(float(c) for c in ce),
        tuple(float(c) for c in cn),
        half_size_deg,
        float(error),
    )


def grid_from_fit(fit: GridFit, lon_deg: float, lat_deg: float) -> tuple[float, float]:
    """Return ``(easting_m, northing_m)`` from ``fit`` (what the pages compute)."""
    t = _terms(
        np.array([lon_deg - fit.ref_lon_deg]), np.array([lat_deg - fit.ref_lat_deg])
    )[0]
    return float(t @ np.array(fit.easting_terms)), float(
        t @ np.array(fit.northing_terms)
    )
