"""The crossing ferry meets its drone: planned on a twin, checked on the real fleet.

The fleet here is the demo's (Kite-1..4 on C1, C2, C3, C1 from P1..P4, one
drifting, one with a degraded signal, an intruder); the real :class:`Fleet` is
stepped as ``run_fleet`` steps it, frames and all.
"""

from __future__ import annotations

import math

import pytest
import shapely

from airspace.site_files import demo_site_path, load_site
from airspace.vessel_proximity import over_water_zones
from simulator.assignments import DroneEntry, build_specs
from simulator.crossing import Crossing, maritime_drone, plan_crossing
from simulator.drone import DroneSpec
from simulator.fleet import Fleet
from simulator.scenarios import parse_spec
from simulator.vessels import crossing_vessel

SITE = load_site(demo_site_path())
DEMO_FLIGHTS = (("C1", "P1"), ("C2", "P2"), ("C3", "P3"), ("C1", "P4"))


def demo_specs(drift: str = "lateral_drift@4:at_s=45,hold_s=25") -> list[DroneSpec]:
    entries = [
        DroneEntry(n, corridor, pad, pad)
        for n, (corridor, pad) in enumerate(DEMO_FLIGHTS, start=1)
    ]
    scenarios = [parse_spec(drift), parse_spec("degraded_signal@3:at_s=30")]
    return build_specs(SITE, entries, scenario_specs=scenarios, intruders=1)


def fleet_of(specs: list[DroneSpec]) -> Fleet:
    return Fleet(SITE, specs, seed=7, repeat=True)


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = SITE.projection.to_metric(*a)
    bx, by = SITE.projection.to_metric(*b)
    return math.hypot(float(ax) - float(bx), float(ay) - float(by))


def fly_to(fleet: Fleet, t_s: float) -> None:
    while fleet.t_s < t_s - 1e-9:
        fleet.step(1_800_000_000.0 + fleet.t_s)


@pytest.mark.parametrize("at_s", [0.0, 80.0, 200.0])
def test_the_crossing_ferry_is_under_the_maritime_drone_of_the_real_fleet(
    at_s: float,
) -> None:
    specs = demo_specs()
    crossing = plan_crossing(fleet_of(specs), at_s)
    assert crossing is not None
    assert "C2" in crossing.drone
    assert crossing.at_s >= at_s
    fleet = fleet_of(specs)
    fly_to(fleet, crossing.at_s)
    drone = fleet.drones[1]
    s = drone.controller.state
    drone_lon, drone_lat = SITE.projection.to_lonlat(s.x_m, s.y_m)
    ferry = crossing_vessel(crossing.lonlat, crossing.at_s, crossing.heading_deg)
    lon, lat, cog = ferry.state(crossing.at_s)
    # the same tick's physics: within a position sample of flight (10 m/s x 0.1 s)
    assert metres_apart((lon, lat), (float(drone_lon), float(drone_lat))) < 2.0
    x, y = SITE.projection.to_metric(lon, lat)
    assert shapely.contains_xy(over_water_zones(SITE)["C2"], float(x), float(y))
    # across the drone's course, not along it
    course = math.degrees(math.atan2(s.ground_east_mps, s.ground_north_mps))
    assert abs(((cog - course) % 180.0) - 90.0) < 1.0


def test_the_demo_ferry_crosses_early_in_the_demo() -> None:
    # Kite-2 is over the water from about 65 s: the demo's 80 s is kept as it is.
    crossing = plan_crossing(fleet_of(demo_specs()), 80.0)
    assert isinstance(crossing, Crossing)
    assert crossing.at_s == pytest.approx(80.0, abs=0.2)
    assert crossing.drone.startswith("drone 2:")


def test_the_crossing_waits_for_a_drone_held_up_before_the_water() -> None:
    # Kite-2 itself drifts out on its way to the water: the ferry meets it later.
    drifting = plan_crossing(fleet_of(demo_specs("lateral_drift@2:at_s=45")), 0.0)
    nominal = plan_crossing(fleet_of(demo_specs()), 0.0)
    assert drifting is not None
    assert nominal is not None
    assert drifting.at_s > nominal.at_s + 20.0


def test_no_crossing_to_plan_without_a_drone_on_a_maritime_corridor() -> None:
    specs = build_specs(SITE, [DroneEntry(1, "C3", "P3", "P3")])
    assert maritime_drone(fleet_of(specs)) is None
    assert plan_crossing(fleet_of(specs), 60.0) is None
