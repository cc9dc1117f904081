"""Drone-vessel proximity: over-water zones of the demo site and the alert rules."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from airspace.site_files import demo_site_path, load_site
from airspace.vessel_proximity import (
    BREACH,
    WARNING,
    ProximityLimits,
    over_water_mask,
    over_water_zones,
    proximity_alerts,
)

SITE = load_site(demo_site_path())
LIMITS = ProximityLimits()


def arr(*rows: tuple[float, float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def test_the_maritime_corridor_is_over_water_only_on_its_flagged_segments() -> None:
    zones = over_water_zones(SITE)
    c2 = SITE.corridor("C2")
    assert "C2" in zones
    # segment 0 (pier to first turn) is over land: its start is outside the zone
    line_m = SITE.projection.geometry_to_metric(c2.geometry_lonlat)
    x0, y0 = line_m.coords[0]
    x2, y2 = line_m.coords[2]
    assert not shapely.contains_xy(zones["C2"], x0, y0)
    assert shapely.contains_xy(zones["C2"], x2, y2)
    mask = over_water_mask(list(zones.values()), np.array([x0, x2]), np.array([y0, y2]))
    assert mask.tolist() == [False, True]


def test_warns_for_a_low_drone_with_a_vessel_passing_close_ahead() -> None:
    # drone hovering at the origin, 40 m up; ferry 1000 m east heading west at 10 m/s
    # -> TCPA 100 s, DCPA 30 m: a warning, not yet a breach
    alerts = proximity_alerts(
        arr((0, 0)),
        arr((0, 0)),
        np.array([40.0]),
        np.array([True]),
        arr((1000, 30)),
        arr((-10, 0)),
        LIMITS,
    )
    [alert] = alerts
    assert (alert.kind, alert.drone, alert.vessel) == (WARNING, 0, 0)
    assert alert.tcpa_s == pytest.approx(100.0)
    assert alert.dcpa_m == pytest.approx(30.0)


def test_a_vessel_inside_the_minimum_separation_is_a_breach() -> None:
    [alert] = proximity_alerts(
        arr((0, 0)),
        arr((0, 0)),
        np.array([20.0]),
        np.array([True]),
        arr((30, 20)),
        arr((-5, 0)),
        LIMITS,
    )
    assert alert.kind == BREACH
    assert alert.range_m == pytest.approx(np.hypot(30, 20))


@pytest.mark.parametrize(
    ("height_m", "over_water", "vessel_xy", "vessel_v", "why"),
    [
        (120.0, True, (1000, 30), (-10, 0), "above the mast height"),
        (40.0, False, (1000, 30), (-10, 0), "over land"),
        (40.0, True, (1000, 30), (10, 0), "diverging"),
        (40.0, True, (3000, 30), (-10, 0), "CPA beyond the horizon"),
        (40.0, True, (1000, 400), (-10, 0), "passes wide"),
    ],
)
def test_no_alert_when(
    height_m: float,
    over_water: bool,
    vessel_xy: tuple[float, float],
    vessel_v: tuple[float, float],
    why: str,
) -> None:
    alerts = proximity_alerts(
        arr((0, 0)),
        arr((0, 0)),
        np.array([height_m]),
        np.array([over_water]),
        arr(vessel_xy),
        arr(vessel_v),
        LIMITS,
    )
    assert alerts == [], why
