"""``GET /api/v1/sites/{id}`` tells the pages how to show HK1980 Grid positions and
mPD heights offline (``display``), from the site's own mPD setting."""

from __future__ import annotations

import pytest

from airspace.hk_grid import GridFit, grid_from_fit, to_hk1980
from tests.integration.api_world import SITE, api_world
from web.settings import Settings


def test_site_carries_a_grid_fit_within_a_centimetre_and_the_approximate_mpd(
    settings: Settings,
) -> None:
    with api_world(settings) as world:
        display = world.get("pilot", f"/api/v1/sites/{SITE}").json()["display"]
    grid = display["hk1980"]
    fit = GridFit(
        grid["ref_lon_deg"],
        grid["ref_lat_deg"],
        tuple(grid["easting_terms"]),
        tuple(grid["northing_terms"]),
        grid["half_size_deg"],
        grid["max_error_m"],
    )
    for lon, lat in [(114.1289, 22.2606), (114.15, 22.28), (114.10, 22.23)]:
        e, n = to_hk1980(lon, lat)
        assert grid_from_fit(fit, lon, lat) == pytest.approx(
            (float(e), float(n)), abs=0.01
        )
    assert display["mpd"]["offset_m"] == pytest.approx(1.23)
    assert "approx" in display["mpd"]["label"]


def test_site_uses_its_surveyed_mpd_offset(settings: Settings) -> None:
    surveyed = settings.model_copy(
        update={"mpd_offset_m": {SITE: 1.4}, "mpd_benchmark": {SITE: "BM 12"}}
    )
    with api_world(surveyed) as world:
        mpd = world.get("pilot", f"/api/v1/sites/{SITE}").json()["display"]["mpd"]
    assert mpd == {
        "offset_m": pytest.approx(1.4),
        "label": "mPD (offset +1.4 m surveyed at BM 12)",
        "method": "surveyed",
        "benchmark": "BM 12",
        "grid": None,
    }
