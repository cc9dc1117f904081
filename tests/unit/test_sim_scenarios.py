"""Scenarios: parsed strictly, deterministic with a seed, and doing what they say.

Each flight here runs the pure fleet (no sockets), decodes every frame it would
send with pymavlink, and feeds the corridor part of the flight through the same
conformance engine and monitor the gateway uses: a scenario must raise exactly
the breach it promises, and ``gps_glitch`` none at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.conformance import ConformanceEngine, DroneBatch
from airspace.monitor import BREACH_KINDS, EventKind, FleetMonitor
from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import DroneEntry, build_specs, site_entries
from simulator.drone import DroneSpec
from simulator.errors import FleetError, ScenarioError
from simulator.fleet import Fleet
from simulator.scenarios import (
    SCENARIOS,
    AltitudeBust,
    GpsGlitch,
    LateralDrift,
    LinkLoss,
    LowBattery,
    Scenario,
    ScenarioSpec,
    make_scenario,
    parse_spec,
    scenarios_for,
)

KEY = bytes(range(32))
WALL_S = 1_800_000_000.0


@cache
def demo() -> Site:
    return load_site(demo_site_path())


@dataclass
class Flight:
    """What a fleet sent, decoded, with the simulated time of each message."""

    fleet: Fleet
    messages: list[tuple[float, Any]] = field(default_factory=list)
    in_corridor: set[tuple[int, float]] = field(default_factory=set)
    """(sysid, t_s) of ticks when that drone flew its corridor (or a scenario)."""

    def of(self, sysid: int, kind: str) -> list[tuple[float, Any]]:
        return [
            (t, m)
            for t, m in self.messages
            if m.get_srcSystem() == sysid and m.get_type() == kind
        ]


def fly(specs: Sequence[DroneSpec], seconds: float, seed: int = 0) -> Flight:
    fleet = Fleet(demo(), specs, seed=seed, gnss_noise_m=0.5)
    parser = mavlink.MAVLink(None)
    parser.robust_parsing = True
    flight = Flight(fleet)
    while fleet.t_s < seconds:
        frames = fleet.step(WALL_S + fleet.t_s)
        for drone in fleet.drones:
            ctl = drone.controller
            if ctl.on_corridor_leg or ctl.deviating:
                flight.in_corridor.add((drone.sysid, round(fleet.t_s, 3)))
        for frame in frames:
            for msg in parser.parse_buffer(frame) or ():
                flight.messages.append((round(fleet.t_s, 3), msg))
    return flight


def specs_for(
    *scenarios: Scenario, corridor: str = "C1", count: int = 1
) -> list[DroneSpec]:
    entries = site_entries(demo(), count, corridor_id=corridor)
    specs = [ScenarioSpec(s, frozenset({1})) for s in scenarios]
    return build_specs(demo(), entries, scenario_specs=specs)


def breach_events(flight: Flight, sysid: int, corridor: str) -> list[EventKind]:
    """Return the breach events the gateway's monitor raises on the corridor part."""
    site = demo()
    volume = site.corridor(corridor).volume
    boundary = site.boundary
    engine = ConformanceEngine(
        [volume],
        exclusions=[g.volume for g in site.exclusions],
        boundary=boundary.volume if boundary else None,
    )
    monitor = FleetMonitor()
    kinds: list[EventKind] = []
    evaluated = 0
    for t_s, msg in flight.of(sysid, "GLOBAL_POSITION_INT"):
        if (sysid, t_s) not in flight.in_corridor:
            continue
        evaluated += 1
        batch = DroneBatch(
            drone_id=np.array([sysid]),
            lon_deg=np.array([msg.lon / 1e7]),
            lat_deg=np.array([msg.lat / 1e7]),
            alt_amsl_m=np.array([msg.alt / 1000.0]),
            vn_mps=np.array([msg.vx / 100.0]),
            ve_mps=np.array([msg.vy / 100.0]),
            vd_mps=np.array([msg.vz / 100.0]),
            t_s=np.array([t_s]),
            volume_index=np.array([0]),
        )
        result = engine.evaluate(batch, site.projection)
        for event in monitor.update(result, t_s):
            if event.kind in BREACH_KINDS or event.kind is EventKind.RETURNED:
                kinds.append(event.kind)
    assert evaluated > 300, "too little of the flight was in the corridor to judge"
    return kinds


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "drones", "params"),
    [
        ("nominal", "nominal", None, {}),
        ("lateral_drift@2", "lateral_drift", {2}, {}),
        ("link_loss@1+3:at_s=5,duration_s=2.5", "link_loss", {1, 3}, {"at_s": 5.0}),
        (" GPS_GLITCH @all : offset_m = 80 ", "gps_glitch", None, {"offset_m": 80.0}),
        ("intruder:sysid=77", "intruder", None, {"sysid": 77}),
    ],
)
def test_a_scenario_spec_names_scenario_drones_and_parameters(
    text: str, name: str, drones: set[int] | None, params: dict[str, float]
) -> None:
    spec = parse_spec(text)
    assert spec.scenario.name == name
    assert spec.drones == (frozenset(drones) if drones else None)
    for key, value in params.items():
        assert getattr(spec.scenario, key) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hover", "unknown scenario 'hover'"),
        ("link_loss:speed=3", "no parameter 'speed'"),
        ("link_loss:at_s", "is not KEY=VALUE"),
        ("link_loss:at_s=soon", "must be a number"),
        ("link_loss:at_s=-1", "must be >= 0"),
        ("link_loss:at_s=nan", "must be finite"),
        ("link_loss@0", "1-based positions"),
        ("link_loss@two", "1-based positions"),
        ("intruder:sysid=2.5", "whole number"),
        ("intruder:sysid=300", "1-255"),
        ("low_battery:start_pct=10,failsafe_pct=20", "below start_pct"),
    ],
)
def test_a_bad_scenario_spec_is_refused_with_the_reason(
    text: str, message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_spec(text)


def test_scenarios_compose_per_drone_but_not_twice_the_same_battery() -> None:
    specs = [
        parse_spec("lateral_drift@2"),
        parse_spec("link_loss"),
        parse_spec("nominal"),
    ]
    assert [s.name for s in scenarios_for(1, specs)] == ["link_loss", "nominal"]
    assert [s.name for s in scenarios_for(2, specs)] == [
        "lateral_drift",
        "link_loss",
        "nominal",
    ]
    with pytest.raises(ScenarioError, match="low_battery given more than once"):
        scenarios_for(1, [parse_spec("low_battery"), parse_spec("low_battery@1")])
    with pytest.raises(ScenarioError, match="cannot be combined"):
        scenarios_for(1, [parse_spec("intruder"), parse_spec("spoofed_sysid")])


def test_every_scenario_of_the_issue_exists() -> None:
    assert set(SCENARIOS) == {
        "nominal",
        "lateral_drift",
        "altitude_bust",
        "link_loss",
        "low_battery",
        "gps_glitch",
        "intruder",
        "spoofed_sysid",
        "pre_fix",
        "degraded_signal",
        # issue 17: the autopilot's error paths when SkyBerth talks to it
        "fence_refused",
        "mute",
        "fence_corrupted",
        "request_lost",
        # issue 17: the autopilot acts on its fence (breach action RTL)
        "fence_rtl",
    }
    assert make_scenario("nominal").name == "nominal"


# --- determinism ---------------------------------------------------------------------


def test_the_same_seed_sends_exactly_the_same_bytes() -> None:
    def frames(seed: int) -> list[bytes]:
        fleet = Fleet(demo(), specs_for(GpsGlitch(at_s=20.0), count=2), seed=seed)
        out: list[bytes] = []
        while fleet.t_s < 40.0:
            out += fleet.step(WALL_S + fleet.t_s)
        return out

    first = frames(7)
    assert frames(7) == first
    assert frames(8) != first  # the seed moves the GNSS noise and the glitch


# --- what each scenario does ---------------------------------------------------------


def test_nominal_raises_no_breach_in_its_corridor() -> None:
    flight = fly(specs_for(), 120.0)
    assert len(flight.of(1, "GLOBAL_POSITION_INT")) == pytest.approx(1200, abs=2)
    assert breach_events(flight, 1, "C1") == []


def test_gps_glitch_sends_one_wild_sample_and_raises_no_incident() -> None:
    flight = fly(specs_for(GpsGlitch(at_s=30.0, offset_m=300.0)), 90.0)
    assert flight.fleet.drones[0].glitched_samples == 1
    positions = [
        demo().projection.to_metric([m.lon / 1e7], [m.lat / 1e7])
        for _, m in flight.of(1, "GLOBAL_POSITION_INT")
    ]
    xy = np.array([(float(x[0]), float(y[0])) for x, y in positions])
    jumps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    wild = np.flatnonzero(jumps > 100.0)
    # Exactly one sample is off: the jump out and the jump back around it.
    assert len(wild) == 2
    assert wild[1] == wild[0] + 1
    assert jumps[wild[0]] == pytest.approx(300.0, abs=5.0)
    assert breach_events(flight, 1, "C1") == []


def test_lateral_drift_leaves_the_corridor_sideways_then_comes_back() -> None:
    drift = LateralDrift(at_s=30.0, speed_mps=3.0, overshoot_m=30.0, hold_s=15.0)
    flight = fly(specs_for(drift), 160.0)
    assert breach_events(flight, 1, "C1") == [
        EventKind.CORRIDOR_EXIT_LATERAL,
        EventKind.RETURNED,
    ]


def test_altitude_bust_climbs_through_the_ceiling_then_comes_back() -> None:
    bust = AltitudeBust(at_s=30.0, overshoot_m=15.0, hold_s=10.0)
    flight = fly(specs_for(bust), 130.0)
    top = max(m.alt / 1000.0 for _, m in flight.of(1, "GLOBAL_POSITION_INT"))
    ceiling = demo().corridor("C1").volume.ceiling_amsl_m
    assert top == pytest.approx(ceiling + 15.0, abs=1.5)
    assert breach_events(flight, 1, "C1") == [
        EventKind.CORRIDOR_EXIT_VERTICAL,
        EventKind.RETURNED,
    ]


def test_link_loss_is_silence_for_its_duration_then_telemetry_again() -> None:
    flight = fly(specs_for(LinkLoss(at_s=10.0, duration_s=8.0)), 40.0)
    times = sorted({t for t, m in flight.messages if m.get_srcSystem() == 1})
    gaps = np.diff(times)
    assert gaps.max() == pytest.approx(8.0, abs=0.25)
    beats = [t for t, _ in flight.of(1, "HEARTBEAT")]
    silent = [t for t in beats if 10.0 < t < 18.0]
    assert silent == []
    assert any(t > 18.0 for t in beats)


def test_low_battery_reports_critical_and_returns_to_launch() -> None:
    flight = fly(specs_for(LowBattery(start_pct=30, drain_x=6, failsafe_pct=15)), 150.0)
    remaining = [m.battery_remaining for _, m in flight.of(1, "SYS_STATUS")]
    assert remaining[0] == 30
    assert min(remaining) < 15
    beats = [m for _, m in flight.of(1, "HEARTBEAT")]
    assert any(m.custom_mode == 6 and m.system_status == 5 for m in beats)  # RTL
    states = {m.charge_state for _, m in flight.of(1, "BATTERY_STATUS")}
    assert mavlink.MAV_BATTERY_CHARGE_STATE_CRITICAL in states
    assert not beats[-1].base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED  # landed


def test_an_intruder_flies_under_a_free_unregistered_system_id() -> None:
    entries = site_entries(demo(), 2)
    specs = build_specs(
        demo(),
        entries,
        scenario_specs=[parse_spec("intruder@2")],
        registered={250: False, 249: True},
    )
    assert [s.sysid for s in specs] == [1, 248]
    assert specs[1].registered_sysid == 2
    flight = fly(specs, 5.0)
    assert flight.of(248, "HEARTBEAT")
    assert not flight.of(2, "HEARTBEAT")


def test_extra_intruders_join_the_fleet() -> None:
    specs = build_specs(demo(), site_entries(demo(), 1), intruders=2)
    assert [s.sysid for s in specs] == [1, 250, 249]


def test_a_spoofer_sends_unsigned_frames_under_a_signing_drones_id() -> None:
    entries = site_entries(demo(), 2)
    specs = build_specs(
        demo(), entries, scenario_specs=[parse_spec("spoofed_sysid@2")], keys={1: KEY}
    )
    assert [s.sysid for s in specs] == [1, 1]
    assert specs[0].signing_key == KEY
    assert specs[1].signing_key is None
    fleet = Fleet(demo(), specs)
    signed = {True: 0, False: 0}
    while fleet.t_s < 3.0:
        for frame in fleet.step(WALL_S + fleet.t_s):
            assert frame[5] == 1  # sysid byte of a MAVLink 2 header
            signed[bool(frame[2] & 0x01)] += 1
    assert signed[True] > 10
    assert signed[False] > 10


def test_a_spoofer_needs_a_victim_that_signs() -> None:
    with pytest.raises(FleetError, match="needs a drone that signs"):
        build_specs(
            demo(),
            site_entries(demo(), 2),
            scenario_specs=[parse_spec("spoofed_sysid@2")],
        )


def test_a_scenario_for_a_drone_the_fleet_lacks_is_refused() -> None:
    with pytest.raises(FleetError, match="names drone 5"):
        build_specs(
            demo(), site_entries(demo(), 2), scenario_specs=[parse_spec("nominal@5")]
        )


def test_two_drones_cannot_share_a_system_id() -> None:
    entries = [DroneEntry(sysid=3), DroneEntry(sysid=3)]
    with pytest.raises(FleetError, match="system id 3 is given to two drones"):
        build_specs(demo(), entries)


def test_an_unknown_corridor_is_refused_with_the_known_ones() -> None:
    with pytest.raises(FleetError, match=r"no corridor 'C9' \(known: C1, C2, C3\)"):
        site_entries(demo(), 1, corridor_id="C9")


def test_with_repeat_a_drone_takes_off_again_after_landing() -> None:
    specs = specs_for()
    once = Fleet(demo(), specs)
    again = Fleet(demo(), specs, repeat=True)
    for fleet in (once, again):
        while fleet.t_s < 200.0:
            fleet.step(WALL_S + fleet.t_s)
    assert once.done
    assert once.drones[0].flights == 1
    assert not again.done
    assert again.drones[0].flights == 2
    assert again.flying == 1


def test_no_drone_takes_off_once_its_booking_is_over() -> None:
    (spec,) = specs_for()
    late = Fleet(demo(), [replace(spec, takeoff_at_s=5.0, takeoff_until_s=5.0)])
    while late.t_s < 6.0:
        late.step(WALL_S + late.t_s)
    assert late.done  # it will never fly: nothing to wait for
    assert late.drones[0].flights == 0
    repeating = Fleet(demo(), [replace(spec, takeoff_until_s=100.0)], repeat=True)
    while repeating.t_s < 400.0 and not repeating.done:
        repeating.step(WALL_S + repeating.t_s)
    assert repeating.done
    assert repeating.drones[0].flights == 1
