"""Nominal flights stay well inside their corridor, from take-off to landing."""

from __future__ import annotations

import math
from functools import cache

import pytest
from shapely.geometry import Point

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.flight import FlightController, FlightMode
from simulator.kinematics import Limits, Wind
from simulator.routes import (
    corridor_path,
    cruise_alt_m,
    nearest_pad,
    plan_flight,
    plan_hover,
)

LATERAL_MARGIN_M = 10.0
"""The gateway warns within 10 m of an edge: a nominal flight never gets that close."""
VERTICAL_MARGIN_M = 5.0
DT_S = 0.1


@cache
def demo() -> Site:
    return load_site(demo_site_path())


@pytest.mark.parametrize("corridor_id", ["C1", "C2", "C3"])
def test_every_route_point_lies_inside_the_corridor_with_margin(
    corridor_id: str,
) -> None:
    site = demo()
    corridor = site.corridor(corridor_id)
    pad = nearest_pad(site, corridor)
    for x, y in corridor_path(site, corridor, (0.0, 0.0), laps=2):
        outline = corridor.volume.outline
        assert outline.contains(Point(x, y))
        assert outline.exterior.distance(Point(x, y)) >= LATERAL_MARGIN_M
    plan = plan_flight(site, corridor, pad)
    assert plan.cruise_alt_m == cruise_alt_m(corridor)
    assert corridor.volume.floor_amsl_m < plan.cruise_alt_m
    assert plan.cruise_alt_m < corridor.volume.ceiling_amsl_m
    assert plan.waypoints[-1].x_m == pytest.approx(plan.landing_xy[0])


@pytest.mark.parametrize(
    ("corridor_id", "wind", "max_s"),
    [
        ("C1", Wind(), None),
        ("C1", Wind.from_direction(7.0, 60.0), None),
        ("C3", Wind.from_direction(5.0, 200.0), None),
        ("C2", Wind.from_direction(4.0, 120.0), 600.0),
    ],
)
def test_a_nominal_flight_stays_inside_its_corridor_and_lands_on_its_pad(
    corridor_id: str, wind: Wind, max_s: float | None
) -> None:
    site = demo()
    corridor = site.corridor(corridor_id)
    volume = corridor.volume
    pad = nearest_pad(site, corridor)
    plan = plan_flight(site, corridor, pad, laps=2)
    ctl = FlightController(plan, Limits(), wind)
    assert ctl.take_off()
    t_s = 0.0
    corridor_samples = 0
    while ctl.mode is not FlightMode.LANDED and (max_s is None or t_s < max_s):
        ctl.step(DT_S)
        t_s += DT_S
        assert t_s < 3600, "the flight never ended"
        if ctl.on_corridor_leg:
            s = ctl.state
            here = Point(s.x_m, s.y_m)
            assert volume.outline.contains(here), f"left {corridor_id} at {t_s:.1f} s"
            assert volume.outline.exterior.distance(here) >= LATERAL_MARGIN_M
            assert volume.floor_amsl_m + VERTICAL_MARGIN_M <= s.alt_m
            assert s.alt_m <= volume.ceiling_amsl_m - VERTICAL_MARGIN_M
            corridor_samples += 1
    assert corridor_samples > 100
    if max_s is None:
        s = ctl.state
        assert math.dist((s.x_m, s.y_m), plan.landing_xy) < 1.5
        assert s.alt_m == pytest.approx(site.ground_elev_m)
        assert not ctl.armed


def test_a_pad_only_booking_is_a_hover_over_the_pad() -> None:
    site = demo()
    pad = site.pad("P2")
    ctl = FlightController(plan_hover(site, pad, hold_s=20.0), Limits(), Wind())
    ctl.take_off()
    top = 0.0
    for _ in range(int(120 / DT_S)):
        ctl.step(DT_S)
        top = max(top, ctl.height_m)
        assert pad.geometry_m.distance(Point(ctl.state.x_m, ctl.state.y_m)) < 1.0
    assert top == pytest.approx(10.0, abs=0.6)
    assert ctl.mode is FlightMode.LANDED


def test_return_to_launch_flies_home_and_lands_there() -> None:
    site = demo()
    corridor = site.corridor("C3")
    plan = plan_flight(site, corridor, site.pad("P1"), landing_pad=site.pad("P2"))
    ctl = FlightController(plan, Limits(), Wind())
    assert not ctl.return_to_launch()  # not on the ground
    ctl.take_off()
    for _ in range(int(60 / DT_S)):
        ctl.step(DT_S)
    assert ctl.return_to_launch()
    for _ in range(int(300 / DT_S)):
        ctl.step(DT_S)
    assert ctl.mode is FlightMode.LANDED
    home = (ctl.state.x_m, ctl.state.y_m)
    assert math.dist(home, plan.takeoff_xy) < 1.5


def test_land_comes_straight_down_where_the_drone_is() -> None:
    site = demo()
    corridor = site.corridor("C1")
    ctl = FlightController(
        plan_flight(site, corridor, site.pad("P4")), Limits(), Wind()
    )
    ctl.take_off()
    for _ in range(int(40 / DT_S)):
        ctl.step(DT_S)
    where = (ctl.state.x_m, ctl.state.y_m)
    assert ctl.land()
    for _ in range(int(60 / DT_S)):
        ctl.step(DT_S)
    assert ctl.mode is FlightMode.LANDED
    assert math.dist(where, (ctl.state.x_m, ctl.state.y_m)) < 10.0


def test_the_nearest_pad_of_a_centre_line_corridor_is_at_its_start() -> None:
    site = demo()
    assert nearest_pad(site, site.corridor("C2")).id == "P4"
