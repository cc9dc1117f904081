"""The simulator's vehicle model never exceeds its limits, whatever it is asked."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from simulator.kinematics import (
    HOLD,
    SLOW_MPS,
    Limits,
    Setpoint,
    VehicleState,
    Wind,
    power_w,
    step,
    wrap_deg,
)

LIMITS = Limits()
GROUND_M = 5.0
EPS = 1e-9

speeds = st.floats(-40.0, 40.0, allow_nan=False)
setpoints = st.builds(Setpoint, speeds, speeds, st.floats(-10.0, 10.0))
winds = st.builds(Wind, st.floats(-8.0, 8.0), st.floats(-8.0, 8.0))
dts = st.floats(0.005, 0.2)


@st.composite
def states(draw: st.DrawFn) -> VehicleState:
    speed = draw(st.floats(0.0, LIMITS.max_speed_mps))
    direction = math.radians(draw(st.floats(0.0, 360.0)))
    return VehicleState(
        x_m=draw(st.floats(-1000.0, 1000.0)),
        y_m=draw(st.floats(-1000.0, 1000.0)),
        alt_m=draw(st.floats(GROUND_M, 200.0)),
        heading_deg=draw(st.floats(0.0, 359.99)),
        air_east_mps=speed * math.sin(direction),
        air_north_mps=speed * math.cos(direction),
        vz_mps=draw(st.floats(-LIMITS.max_descent_mps, LIMITS.max_climb_mps)),
        energy_wh=draw(st.floats(0.0, LIMITS.battery_capacity_wh)),
    )


def _direction(state: VehicleState) -> float:
    return math.degrees(math.atan2(state.air_east_mps, state.air_north_mps))


def assert_within_limits(before: VehicleState, after: VehicleState, dt: float) -> None:
    assert after.speed_mps <= LIMITS.max_speed_mps + EPS
    assert abs(after.speed_mps - before.speed_mps) <= LIMITS.max_accel_mps2 * dt + EPS
    assert -LIMITS.max_descent_mps - EPS <= after.vz_mps <= LIMITS.max_climb_mps + EPS
    touched_down = after.alt_m == GROUND_M and before.vz_mps < 0
    if not touched_down:  # the ground, not the motors, stops a landing
        assert (
            abs(after.vz_mps - before.vz_mps) <= LIMITS.max_vert_accel_mps2 * dt + EPS
        )
    max_turn = LIMITS.max_turn_rate_dps * dt + 1e-6
    assert abs(wrap_deg(after.heading_deg - before.heading_deg)) <= max_turn
    if before.speed_mps >= SLOW_MPS and after.speed_mps >= SLOW_MPS:
        assert abs(wrap_deg(_direction(after) - _direction(before))) <= max_turn
    assert after.alt_m >= GROUND_M
    assert after.energy_wh <= before.energy_wh


@given(states(), setpoints, winds, dts)
def test_one_step_never_exceeds_speed_climb_turn_or_acceleration_limits(
    state: VehicleState, setpoint: Setpoint, wind: Wind, dt: float
) -> None:
    after = step(state, setpoint, dt, LIMITS, wind, GROUND_M, motors_on=True)
    assert_within_limits(state, after, dt)


@settings(max_examples=50)
@given(states(), st.lists(setpoints, min_size=5, max_size=60), winds, dts)
def test_a_run_of_changing_setpoints_stays_within_limits_at_every_step(
    state: VehicleState, plan: list[Setpoint], wind: Wind, dt: float
) -> None:
    for setpoint in plan:
        for _ in range(5):
            after = step(state, setpoint, dt, LIMITS, wind, GROUND_M, motors_on=True)
            assert_within_limits(state, after, dt)
            state = after


@given(states(), setpoints, winds, dts)
def test_motors_off_the_vehicle_stays_put_and_keeps_its_charge(
    state: VehicleState, setpoint: Setpoint, wind: Wind, dt: float
) -> None:
    after = step(state, setpoint, dt, LIMITS, wind, GROUND_M, motors_on=False)
    assert (after.x_m, after.y_m, after.alt_m) == (state.x_m, state.y_m, state.alt_m)
    assert after.energy_wh == state.energy_wh
    assert after.speed_mps == 0.0


def test_hovering_in_wind_the_autopilot_holds_its_ground_position() -> None:
    wind = Wind.from_direction(6.0, 90.0)  # from the east: the air moves west
    assert wind.east_mps < -5.9
    state = VehicleState(0.0, 0.0, 50.0, energy_wh=100.0)
    for _ in range(200):
        state = step(state, HOLD, 0.05, LIMITS, wind, GROUND_M, motors_on=True)
    # It crabs into the wind: the air velocity cancels the wind over the ground.
    assert state.ground_speed_mps < 0.01
    assert state.air_east_mps > 5.9


def test_the_wind_pushes_a_vehicle_whose_airspeed_cannot_beat_it() -> None:
    wind = Wind(east_mps=LIMITS.max_speed_mps + 3.0)
    state = VehicleState(0.0, 0.0, 50.0, energy_wh=100.0)
    for _ in range(200):
        state = step(state, HOLD, 0.05, LIMITS, wind, GROUND_M, motors_on=True)
    assert state.ground_east_mps > 2.9


def test_a_reversal_stops_turns_and_starts_again_rather_than_flying_a_loop() -> None:
    state = VehicleState(0.0, 0.0, 50.0, air_north_mps=10.0, energy_wh=100.0)
    south = Setpoint(north_mps=-10.0)
    max_north = 0.0
    for _ in range(400):
        state = step(state, south, 0.05, LIMITS, Wind(), GROUND_M, motors_on=True)
        max_north = max(max_north, state.y_m)
    assert state.ground_north_mps < -9.9
    # Stopping from 10 m/s at 3 m/s2 takes about 17 m; no wide loop sideways.
    assert max_north < 20.0
    assert abs(state.x_m) < 5.0


def test_flying_fast_drains_the_battery_faster_than_hovering() -> None:
    hover = VehicleState(0.0, 0.0, 50.0, energy_wh=100.0)
    cruise = VehicleState(0.0, 0.0, 50.0, air_east_mps=10.0, energy_wh=100.0)
    assert power_w(cruise, LIMITS, True) > power_w(hover, LIMITS, True)
    assert power_w(hover, LIMITS, False) == 0.0
    a = step(hover, HOLD, 1.0, LIMITS, Wind(), GROUND_M, motors_on=True)
    b = step(cruise, Setpoint(east_mps=10.0), 1.0, LIMITS, Wind(), GROUND_M, True)
    assert 100.0 - b.energy_wh > 100.0 - a.energy_wh > 0.0


def test_landing_stops_at_the_ground_and_the_wind_no_longer_moves_it() -> None:
    state = VehicleState(0.0, 0.0, GROUND_M + 0.02, vz_mps=-1.0, energy_wh=100.0)
    windy = Wind(east_mps=5.0)
    after = step(state, Setpoint(up_mps=-1.0), 0.1, LIMITS, windy, GROUND_M, True)
    assert after.alt_m == GROUND_M
    assert after.vz_mps == 0.0
    assert after.ground_east_mps == 0.0


def test_the_same_inputs_give_the_same_state() -> None:
    state = VehicleState(1.0, 2.0, 30.0, heading_deg=10.0, energy_wh=50.0)
    setpoint = Setpoint(3.0, -4.0, 1.0)
    runs = []
    for _ in range(2):
        s = state
        for _ in range(100):
            s = step(s, setpoint, 0.1, LIMITS, Wind(2.0, 1.0), GROUND_M, True)
        runs.append(s)
    assert runs[0] == runs[1]


def test_limits_refuse_non_positive_values() -> None:
    with pytest.raises(ValueError, match="max_speed_mps"):
        Limits(max_speed_mps=0.0)
