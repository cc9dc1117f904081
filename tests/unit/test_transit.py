"""The airspace a booking holds between its pads and its corridor."""

from __future__ import annotations

import pytest
from shapely import LineString, Point

from airspace.site_files import demo_site_path, load_site
from airspace.transit import (
    TRANSIT_RADIUS_M,
    pad_centre,
    pad_column,
    transit_entry,
    transit_volume,
)

SITE = load_site(demo_site_path())


@pytest.mark.parametrize("pad", [p.id for p in SITE.pads])
@pytest.mark.parametrize("corridor", [c.id for c in SITE.corridors])
def test_a_transit_joins_its_pad_to_its_corridor_from_the_ground_up(
    pad: str, corridor: str
) -> None:
    p, c = SITE.pad(pad), SITE.corridor(corridor)
    volume = transit_volume(SITE, p, c)
    entry = transit_entry(p, c)
    assert volume.outline.contains(pad_centre(p))
    assert volume.outline.contains(entry)
    assert c.volume.outline.contains(entry)
    # The straight way from the pad to the entry stays inside the transit.
    assert volume.outline.buffer(1e-6).covers(LineString([pad_centre(p), entry]))
    assert volume.floor_amsl_m < SITE.ground_elev_m
    assert volume.ceiling_amsl_m == c.volume.ceiling_amsl_m


@pytest.mark.parametrize("pad", ["P1", "P2", "P4"])
def test_the_entry_lies_a_radius_inside_the_corridor(pad: str) -> None:
    c = SITE.corridor("C1")
    entry = transit_entry(SITE.pad(pad), c)
    depth = c.volume.outline.exterior.distance(entry)
    assert depth == pytest.approx(TRANSIT_RADIUS_M, abs=0.5)


def test_a_pad_inside_the_corridor_outline_gets_a_column_over_it() -> None:
    p = SITE.pad("P3")
    c = SITE.corridor("C2")
    assert c.volume.outline.contains(pad_centre(p))
    entry = transit_entry(p, c)
    assert entry.equals(pad_centre(p))
    volume = transit_volume(SITE, p, c)
    assert volume.outline.area == pytest.approx(
        Point(0, 0).buffer(TRANSIT_RADIUS_M).area, rel=0.05
    )


def test_a_pad_only_booking_holds_a_low_column() -> None:
    column = pad_column(SITE, SITE.pad("P1"), ceiling_agl_m=30.0)
    assert column.ceiling_amsl_m == SITE.ground_elev_m + 30.0
    assert column.outline.contains(pad_centre(SITE.pad("P1")))
