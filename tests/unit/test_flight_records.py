"""Flights found in recorded tlogs (issue 18 item 1): take-off, landing,
touch-and-go, link loss mid-flight, a recording cut in flight; and each figure of
a scripted flight checked against the hand computation in ``tests.flight_script``.
Frames are made by pymavlink and go through a real ``.tlog`` file."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from airspace.site_files import demo_site_path, load_site
from telemetry.flights import (
    OFF_PAD,
    FlightFigures,
    FlightIncident,
    StateSample,
    booking_flights,
    detect_flights,
    flights_csv,
    samples_from_records,
)
from telemetry.mavlink.tlog import Record, read_tlog
from tests.flight_script import T0, Step, out_and_back, records, write_tlog
from tests.mavlink_helpers import VehicleEncoder

SITE = load_site(demo_site_path())
LANDED_END_S = 10.0


def flights_of(
    tmp_path: Path,
    steps: list[Step],
    states: Sequence[StateSample] = (),
    incidents: Sequence[FlightIncident] = (),
) -> list[FlightFigures]:
    path = write_tlog(tmp_path / "booking-1.tlog", records(SITE, steps))
    return booking_flights(read_tlog(path), SITE, LANDED_END_S, states, incidents)


def shifted(steps: list[Step], by_s: float, battery_drop: int = 0) -> list[Step]:
    return [
        dataclasses.replace(
            s, t_s=s.t_s + by_s, battery_pct=s.battery_pct - battery_drop
        )
        for s in steps
    ]


def test_scripted_flight_figures_equal_the_hand_computation(tmp_path: Path) -> None:
    (f,) = flights_of(tmp_path, out_and_back())
    assert f.complete
    assert f.takeoff_utc.timestamp() == pytest.approx(T0 + 2.02)
    assert f.landing_utc.timestamp() == pytest.approx(T0 + 10.02)
    assert f.flight_time_s == pytest.approx(8.0)
    assert str(f.takeoff_local.tzinfo) == "Asia/Hong_Kong"
    assert f.takeoff_local.utcoffset() == dt.timedelta(hours=8)
    assert (f.takeoff_pad, f.landing_pad) == ("P1", "P1")
    assert f.ground_distance_m == pytest.approx(60.0, abs=0.1)
    assert f.max_alt_agl_m == pytest.approx(20.0)
    assert f.mean_alt_agl_m == pytest.approx(140 / 9, abs=1e-3)
    assert f.max_alt_amsl_m == pytest.approx(SITE.ground_elev_m + 20.0)
    assert f.max_ground_speed_mps == pytest.approx(10.0)
    assert f.mean_ground_speed_mps == pytest.approx(60 / 9, abs=1e-3)
    assert f.max_climb_mps == pytest.approx(10.0)
    assert f.max_descent_mps == pytest.approx(10.0)
    assert (f.battery_takeoff_pct, f.battery_landing_pct) == (99.0, 90.0)
    assert f.battery_used_pct == 9.0
    assert f.energy_used_mah is None  # SYS_STATUS only: no consumed charge
    assert f.touch_and_goes == 0
    assert f.link_lost == ()


def test_two_flights_when_landed_longer_than_the_booking_end_rule(
    tmp_path: Path,
) -> None:
    steps = out_and_back() + shifted(out_and_back(), 26, battery_drop=10)
    first, second = flights_of(tmp_path, steps)
    assert second.takeoff_utc.timestamp() == pytest.approx(T0 + 28.02)
    assert (first.battery_landing_pct, second.battery_takeoff_pct) == (90.0, 89.0)


def test_touch_and_go_stays_one_flight(tmp_path: Path) -> None:
    # Down and disarmed for 3 s (less than landed_end_s), then up again.
    script = out_and_back()[:11]
    steps = (
        script
        + [Step(t, 0, 0, False, 90) for t in (11, 12, 13)]
        + shifted(out_and_back()[1:], 13, battery_drop=10)
    )
    (f,) = flights_of(tmp_path, steps)
    assert f.touch_and_goes == 1
    assert f.flight_time_s == pytest.approx(23 - 2)
    assert f.ground_distance_m == pytest.approx(120.0, abs=0.2)


def test_link_loss_mid_flight_stays_one_flight_with_the_gap_kept(
    tmp_path: Path,
) -> None:
    script = out_and_back()
    lost = [*script[:5], *shifted(script[5:], 20)]  # nothing from 4 s to 25 s
    (f,) = flights_of(tmp_path, lost)
    assert f.complete
    assert len(f.link_lost) == 1
    start, end = f.link_lost[0]
    assert end - start == pytest.approx(21.0)
    assert f.flight_time_s == pytest.approx(28.0)


def test_recording_that_ends_in_flight_leaves_the_flight_open(tmp_path: Path) -> None:
    (f,) = flights_of(tmp_path, out_and_back()[:6])
    assert not f.complete
    assert f.landing_utc.timestamp() == pytest.approx(T0 + 5.02)


def test_no_flight_when_the_drone_never_arms_or_climbs(tmp_path: Path) -> None:
    assert flights_of(tmp_path, [Step(t, 0, 0, False, 100) for t in range(30)]) == []


def test_a_ground_station_heartbeat_does_not_disarm_the_vehicle() -> None:
    frames = records(SITE, out_and_back())
    gcs = VehicleEncoder(11, compid=190)
    gcs_hb = gcs.mav.heartbeat_encode(6, 8, 0, 0, 4).pack(gcs.mav)
    mixed = [r for t, raw in frames for r in ((t, raw), (t + 0.015, gcs_hb))]
    samples = samples_from_records(Record(t, raw) for t, raw in mixed)[11]
    assert [s.armed for s in samples[:3]] == [False, True, True]
    assert len(detect_flights(samples, LANDED_END_S)) == 1


def test_off_pad_landing_and_time_in_volume_and_incidents(tmp_path: Path) -> None:
    script = out_and_back()
    away = [dataclasses.replace(s, east_m=30) if s.t_s >= 8 else s for s in script]
    states = [
        StateSample(T0 + t, st)
        for t, st in [
            (1, "on_ground"),
            (2, "near_edge"),
            (3, "inside"),
            (7, "outside_lateral"),
            (9, "inside"),
        ]
    ]
    incidents = [FlightIncident(5, "breach", T0 + 7.5), FlightIncident(6, "x", T0 + 60)]
    (f,) = flights_of(tmp_path, away, states=states, incidents=incidents)
    assert f.landing_pad == OFF_PAD
    assert (f.near_edge_s, f.outside_s) == pytest.approx((1.0, 2.0))
    assert f.inside_s == pytest.approx(4.0 + 1.02)
    assert f.incident_ids == (5,)


def test_csv_has_one_row_per_flight_with_the_json_numbers(tmp_path: Path) -> None:
    flights = flights_of(tmp_path, out_and_back() + shifted(out_and_back(), 26))
    lines = flights_csv(flights).splitlines()
    assert len(lines) == 3
    header = lines[0].split(",")
    row = dict(zip(header, lines[1].split(","), strict=True))
    assert float(row["flight_time_s"]) == pytest.approx(8.0)
    assert row["takeoff_pad"] == "P1"


def test_conditions_are_segmented_by_terrain_with_hand_computed_times(
    tmp_path: Path,
) -> None:
    # Start 15 m inside C1's east edge (over water): 0 and 10 m east are water,
    # 20 and 30 m open land. Over water: HDOP 2.5, RSSI 90; over land 0.8, 200.
    c1 = SITE.corridor("C1").volume.outline
    origin = (c1.bounds[2] - 15.0, c1.centroid.y)
    steps = [
        dataclasses.replace(
            s,
            hdop=2.5 if s.east_m < 15 else 0.8,
            rssi=90 if s.east_m < 15 else 200,
            satellites=5 if s.east_m < 15 else 14,
        )
        for s in out_and_back()
    ]
    path = write_tlog(tmp_path / "c.tlog", records(SITE, steps, origin_xy=origin))
    (f,) = booking_flights(read_tlog(path), SITE, LANDED_END_S)
    c = f.conditions
    # Messages at 1..9 s (+0.03) are in the flight (1.02-10.02 s); six over water
    # (1, 2, 3, 7, 8, 9 s), three over land; each holds 1 s, the last 0.99 s.
    assert c["terrain_s"] == {"water": 6.0, "open": 3.0, "dense_urban": 0.0}
    gnss = c["gnss"]
    assert gnss["all"]["hdop"] == {"n": 9, "min": 0.8, "median": 2.5, "max": 2.5}
    assert gnss["water"]["hdop_above_2_s"] == pytest.approx(5.99)
    assert gnss["open"]["hdop_above_2_s"] == 0.0
    assert gnss["water"]["satellites_below_6_s"] == pytest.approx(5.99)
    assert gnss["open"]["satellites"]["min"] == 14
    assert "dense_urban" not in gnss
    radio = c["radio"]
    assert radio["water"]["rssi"]["max"] == 90
    assert radio["all"]["rssi_below_100_s"] == pytest.approx(5.99)
    assert c["wind"]["speed_mps"]["median"] == 5.0
    assert c["wind"]["direction_deg"]["median"] == 270.0
    assert c["gnss2"] is None
    assert c["link"]["gaps"] == 0
    assert c["link"]["position_rate_hz"] == pytest.approx(10 / 9, abs=1e-3)
    row = flights_csv([f]).splitlines()
    assert "hdop_median" in row[0]
