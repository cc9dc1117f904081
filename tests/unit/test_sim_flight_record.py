"""The simulator's flight as a trial record (issue 18 items 1 and 2): one drone
of the pure fleet (no sockets, fixed seed) flies its C1 plan with the
``degraded_signal`` script; its frames, as a ``.tlog`` would hold them, give one
flight whose figures equal those computed straight from the frames it sent, and
whose conditions show the scripted HDOP/RSSI degradation for its duration."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.fleet import Fleet
from simulator.scenarios import DegradedSignal
from telemetry.flights import FlightFigures, booking_flights
from telemetry.mavlink.tlog import Record

WALL_S = 1_800_000_000.0
SCRIPT = DegradedSignal(at_s=10.0, duration_s=10.0, hdop=2.5, satellites=6, rssi=90)


@cache
def demo() -> Site:
    return load_site(demo_site_path())


@cache
def flown() -> tuple[list[Record], list[tuple[float, Any]]]:
    """Every frame the drone sent until it landed (and 15 s more), decoded too."""
    specs = build_specs(demo(), site_entries(demo(), 1, corridor_id="C1"))
    specs = [replace(specs[0], scenarios=(SCRIPT,))]
    fleet = Fleet(demo(), specs, seed=7)
    parser = mavlink.MAVLink(None)
    records: list[Record] = []
    decoded: list[tuple[float, Any]] = []
    landed_at: float | None = None
    while fleet.t_s < 900 and (landed_at is None or fleet.t_s < landed_at + 15):
        for frame in fleet.step(WALL_S + fleet.t_s):
            records.append(Record(WALL_S + fleet.t_s, frame))
            for m in parser.parse_buffer(frame) or ():
                decoded.append((WALL_S + fleet.t_s, m))
                if m.get_type() == "HEARTBEAT" and not m.base_mode & 128:
                    if landed_at is None and any(
                        x.get_type() == "HEARTBEAT" and x.base_mode & 128
                        for _, x in decoded
                    ):
                        landed_at = fleet.t_s
    return records, decoded


def flight() -> FlightFigures:
    (f,) = booking_flights(flown()[0], demo(), landed_end_s=10.0)
    return f


def of(kind: str) -> list[tuple[float, Any]]:
    return [(t, m) for t, m in flown()[1] if m.get_type() == kind]


def test_the_simulated_flight_is_one_complete_flight_from_pad_to_pad() -> None:
    f = flight()
    assert f.complete
    assert f.touch_and_goes == 0
    assert f.flight_time_s > 30
    assert f.takeoff_pad != "off-pad"


def test_figures_equal_those_computed_from_the_frames_sent() -> None:
    f = flight()
    t0, t1 = f.takeoff_utc.timestamp(), f.landing_utc.timestamp()
    positions = [m for t, m in of("GLOBAL_POSITION_INT") if t0 - 2 <= t <= t1]
    rel = np.array([m.relative_alt / 1000 for m in positions])
    assert f.max_alt_agl_m == pytest.approx(
        max(m.alt / 1000 for m in positions) - demo().ground_elev_m,
        abs=0.01,
    )
    assert rel.max() == pytest.approx(f.max_alt_agl_m, abs=2.0)  # home on the pad
    speeds = [math.hypot(m.vx, m.vy) / 100 for m in positions]
    assert f.max_ground_speed_mps == pytest.approx(max(speeds), abs=0.01)
    x, y = demo().projection.to_metric(
        [m.lon / 1e7 for m in positions],
        [m.lat / 1e7 for m in positions],
    )
    assert f.ground_distance_m == pytest.approx(
        float(np.hypot(np.diff(x), np.diff(y)).sum()), rel=0.02
    )
    battery = [(t, m.battery_remaining) for t, m in of("SYS_STATUS")]
    assert f.battery_takeoff_pct is not None
    assert f.battery_takeoff_pct in {b for t, b in battery if t <= t0}
    assert f.battery_landing_pct is not None
    assert f.battery_landing_pct == [b for t, b in battery if t <= t1][-1]
    assert f.battery_takeoff_pct > f.battery_landing_pct
    assert f.battery_used_pct == f.battery_takeoff_pct - f.battery_landing_pct


def test_conditions_show_the_scripted_degradation() -> None:
    c = flight().conditions
    gnss = c["gnss"]["all"]
    assert gnss["hdop"]["max"] == 2.5
    assert gnss["hdop"]["min"] == 0.8
    assert gnss["satellites"]["min"] == 6
    # 10 s of script at 2 Hz GPS_RAW_INT, each message holding 0.5 s.
    assert gnss["hdop_above_2_s"] == pytest.approx(10.0, abs=0.6)
    radio = c["radio"]["all"]
    assert radio["rssi"]["min"] == 90
    assert radio["rssi_below_100_s"] == pytest.approx(10.0, abs=1.1)
    assert c["wind"]["speed_mps"]["max"] == pytest.approx(0.0, abs=0.01)
    assert c["link"]["gaps"] == 0
    assert c["terrain_s"]["water"] > 0
