"""HK1980 Grid positions and mPD heights (``airspace.hk_grid``)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from airspace.hk_grid import (
    HK1980_GRID,
    MSL_MPD_M,
    MpdMethod,
    MpdReference,
    from_hk1980,
    grid_from_fit,
    local_grid_fit,
    to_hk1980,
)

# Control points: WGS84 lon/lat and the HK1980 Grid easting/northing pyproj 3.7
# (PROJ 9.5, EPSG:1825 Helmert) gave for them, to the millimetre.
CONTROL = [
    ((114.1289, 22.2606), (831323.165, 813533.596)),  # the demo site's reference
    ((114.1694, 22.2783), (835497.698, 815492.824)),  # Wan Chai waterfront
]


@pytest.mark.parametrize(("lonlat", "grid"), CONTROL)
def test_wgs84_to_hk1980_matches_the_control_points(
    lonlat: tuple[float, float], grid: tuple[float, float]
) -> None:
    e, n = to_hk1980(*lonlat)
    assert (float(e), float(n)) == pytest.approx(grid, abs=0.002)


@pytest.mark.parametrize(("lonlat", "grid"), CONTROL)
def test_hk1980_to_wgs84_round_trips(
    lonlat: tuple[float, float], grid: tuple[float, float]
) -> None:
    lon, lat = from_hk1980(*grid)
    assert (float(lon), float(lat)) == pytest.approx(lonlat, abs=1e-7)


def test_projection_origin_is_the_false_easting_and_northing() -> None:
    # On HK1980 itself (EPSG:4611) the natural origin maps to FE, FN exactly.
    origin = Transformer.from_crs("EPSG:4611", HK1980_GRID, always_xy=True)
    e, n = origin.transform(114 + 10 / 60 + 42.80 / 3600, 22 + 18 / 60 + 43.68 / 3600)
    assert (e, n) == pytest.approx((836694.05, 819069.80), abs=0.001)


def test_epsg_axis_order_is_northing_first_without_always_xy() -> None:
    # The pitfall: EPSG:2326's own axis order is (northing, easting).
    naive = Transformer.from_crs("EPSG:4326", HK1980_GRID)
    first, second = naive.transform(22.2606, 114.1289)
    e, n = to_hk1980(114.1289, 22.2606)
    assert (first, second) == pytest.approx((float(n), float(e)), abs=0.001)
    assert float(e) > 800_000  # eastings here are ~830 km, northings ~810 km
    assert float(e) > float(n)


def test_vectorised_over_arrays() -> None:
    lons = np.array([p[0][0] for p in CONTROL])
    lats = np.array([p[0][1] for p in CONTROL])
    e, n = to_hk1980(lons, lats)
    assert e.shape == (2,)
    assert float(n[1]) == pytest.approx(CONTROL[1][1][1], abs=0.002)


def test_local_fit_for_the_pages_stays_within_a_centimetre_of_pyproj() -> None:
    fit = local_grid_fit(114.1289, 22.2606)
    assert fit.max_error_m < 0.01
    for (lon, lat), grid in CONTROL:
        assert grid_from_fit(fit, lon, lat) == pytest.approx(grid, abs=0.01)


def test_default_mpd_is_msl_plus_1_23_and_says_it_is_approximate() -> None:
    ref = MpdReference()
    assert float(ref.to_mpd(10.0, 114.13, 22.26)) == pytest.approx(10.0 + MSL_MPD_M)
    assert ref.method is MpdMethod.APPROXIMATE
    assert "approx" in ref.label


def test_surveyed_offset_names_its_benchmark() -> None:
    ref = MpdReference.surveyed(1.31, "BM pier 7")
    assert float(ref.to_mpd(10.0, 114.13, 22.26)) == pytest.approx(11.31)
    assert "surveyed at BM pier 7" in ref.label


def _gtx(path: Path, value_m: float) -> Path:
    rows = cols = 5  # 22.0-22.8 N, 113.8-114.6 E, 0.2 degree cells
    header = struct.pack(">4d2i", 22.0, 113.8, 0.2, 0.2, rows, cols)
    path.write_bytes(header + np.full(rows * cols, value_m, dtype=">f4").tobytes())
    return path


def test_geoid_grid_adds_the_grid_value_and_names_the_file(tmp_path: Path) -> None:
    ref = MpdReference.geoid_grid(_gtx(tmp_path / "site-mpd.gtx", 2.5))
    assert float(ref.to_mpd(10.0, 114.1289, 22.2606)) == pytest.approx(12.5)
    assert "site-mpd.gtx" in ref.label


def test_geoid_grid_refuses_points_outside_it(tmp_path: Path) -> None:
    ref = MpdReference.geoid_grid(_gtx(tmp_path / "small.gtx", 2.5))
    with pytest.raises(ValueError, match="outside grid"):
        ref.to_mpd(10.0, 120.0, 30.0)
