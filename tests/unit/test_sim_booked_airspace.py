"""The simulator keeps to what a booking holds, in time and in space.

- In time: booking windows are real time, the simulator's clock runs ``speed``
  times faster, so a booking's start is ``speed`` times further into a fast run
  (before the fix, a run at ``--speed 10`` took off ten times too early, before its
  window opened, and SkyBerth saw an unbooked flight).
- In space: a booking holds its corridor and the transits from its pads, so a
  lateral drift must leave that whole shape (before the fix, a drift out through
  the corridor edge nearest the pier ended inside the transit and raised nothing).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from airspace.site_files import demo_site_path, load_site
from airspace.transit import transit_entry, transit_volume
from simulator.assignments import booking_entries
from simulator.bookings_api import BookedFlight, RegisteredDrone
from simulator.excursions import drift_target, held_outline
from simulator.routes import pad_xy

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
DEMO = load_site(demo_site_path())


@pytest.mark.parametrize("speed", [1.0, 4.0, 10.0])
def test_a_fast_run_takes_off_when_the_booking_opens_in_real_time(
    speed: float,
) -> None:
    flight = BookedFlight(
        7,
        "d1",
        NOW + timedelta(seconds=3),
        NOW + timedelta(minutes=30),
        "P2",
        None,
        "C1",
    )
    (entry,) = booking_entries(
        [flight], [RegisteredDrone("d1", "Kite", 21, signed=False)], NOW, speed=speed
    )
    # Simulated seconds; divided by the speed they are the real 3 s and 30 min.
    assert entry.takeoff_at_s / speed == pytest.approx(3.0)
    assert entry.takeoff_until_s is not None
    assert entry.takeoff_until_s / speed == pytest.approx(1800.0)


@pytest.mark.parametrize("pad_id", ["P1", "P2", "P3", "P4"])
def test_a_lateral_drift_leaves_the_corridor_and_its_transits(pad_id: str) -> None:
    corridor = DEMO.corridor("C1")
    pad = DEMO.pad(pad_id)
    alt_m = (corridor.volume.floor_amsl_m + corridor.volume.ceiling_amsl_m) / 2
    held = held_outline(DEMO, corridor, alt_m, [pad_xy(pad)])
    assert held.contains(pad.geometry_m.centroid)  # the transit reaches the pad
    transit = transit_volume(DEMO, pad, corridor).outline
    # Start 3 m inside C1 where the transit from the pad crosses its edge: the
    # nearest edge of the corridor alone is the one into the transit.
    centre, entry = pad.geometry_m.centroid, transit_entry(pad, corridor)
    crossing = shapely.LineString([centre, entry]).intersection(
        corridor.volume.outline.boundary
    )
    assert isinstance(crossing, shapely.Point)
    ux, uy = entry.x - centre.x, entry.y - centre.y
    norm = math.hypot(ux, uy)
    x, y = crossing.x + 3.0 * ux / norm, crossing.y + 3.0 * uy / norm
    tx, ty = drift_target(DEMO, corridor, x, y, alt_m, 30.0, [pad_xy(pad)])
    target = shapely.Point(tx, ty)
    assert not transit.contains(target)
    assert held.distance(target) >= 30.0 * 0.9
    assert corridor.volume.outline.distance(target) >= 30.0 * 0.9
