"""The airspace a booking holds: the engine's own volumes, one outline."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, Polygon

from airspace import demo_site_path, load_site
from airspace.booked_volume import booked_outline, booked_volumes, outline_lonlat
from airspace.site import Site
from airspace.transit import pad_column, transit_volume


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(demo_site_path())


def test_a_corridor_booking_holds_the_corridor_and_one_transit_per_pad(
    site: Site,
) -> None:
    volumes = booked_volumes(site, "C1", ("P1", "P4"))
    corridor = site.corridor("C1")
    assert volumes[0] == corridor.volume
    assert volumes[1].outline.equals(
        transit_volume(site, site.pad("P1"), corridor).outline
    )
    assert volumes[2].outline.equals(
        transit_volume(site, site.pad("P4"), corridor).outline
    )


def test_a_pad_only_booking_holds_the_pad_column(site: Site) -> None:
    (column,) = booked_volumes(site, None, ("P2",))
    assert column.outline.equals(pad_column(site, site.pad("P2")).outline)


def test_the_outline_is_one_polygon_covering_every_booked_volume(site: Site) -> None:
    outline = booked_outline(site, "C1", ("P1",))
    assert isinstance(outline, Polygon)
    for volume in booked_volumes(site, "C1", ("P1",)):
        assert outline.buffer(1e-6).contains(volume.outline)


@pytest.mark.parametrize("corridor_id", ["C2", "C3"])  # the centre-line ones
def test_a_centre_line_corridor_has_round_caps_not_square_ends(
    site: Site, corridor_id: str
) -> None:
    corridor = site.corridor(corridor_id)
    assert isinstance(corridor.geometry_lonlat, LineString)
    assert corridor.half_width_m is not None
    line = site.projection.geometry_to_metric(corridor.geometry_lonlat)
    square = line.buffer(corridor.half_width_m, cap_style="square")
    outline = booked_outline(site, corridor_id, ())
    # Round caps cover less than square ends, by (4 - pi) r^2 per end.
    assert outline.area < square.area
    assert outline.equals_exact(corridor.volume.outline, 1e-9)


def test_outline_in_lon_lat_round_trips_to_site_metres(site: Site) -> None:
    outline = booked_outline(site, "C2", ("P3",))
    back = site.projection.geometry_to_metric(outline_lonlat(site, outline))
    assert back.hausdorff_distance(outline) < 0.05
