"""A small multicopter model in site metres: limits, state, wind, battery, one step.

Frames: ``x_m`` east and ``y_m`` north in the site's metric CRS, ``alt_m`` metres
AMSL, angles in degrees clockwise from north. The vehicle flies through the air
(``speed_mps`` along ``heading_deg``, its nose) and the air moves with the wind, so
the ground velocity is the air velocity plus the wind once airborne. The autopilot
asks for a *ground* velocity; ``step`` turns it into an air velocity (crabbing into
the wind) and then applies the airframe's limits:

- horizontal airspeed at most ``max_speed_mps``, changing by at most
  ``max_accel_mps2`` per second;
- under way (``SLOW_MPS`` or faster) the velocity turns at most
  ``max_turn_rate_dps`` and the vehicle slows while the wanted direction is off
  (``cos`` of the error); past 90 deg it brakes along its line, so a reversal is a
  stop and a new start; slower than that it moves in any direction, as a hovering
  multicopter does;
- the nose (``heading_deg``) follows the air velocity at the same turn rate;
- vertical speed between ``-max_descent_mps`` and ``max_climb_mps``, changing by at
  most ``max_vert_accel_mps2`` per second; never below the ground.

The battery drains while the motors run: hover power plus a term per m/s of
airspeed plus a climb term. Everything is deterministic and pure: the same inputs
give the same state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

SLOW_MPS = 1.0
"""Below this airspeed the vehicle moves in any direction without turning."""
_ON_GROUND_M = 0.05


@dataclass(frozen=True)
class Limits:
    """What the airframe can do, and what its battery holds."""

    max_speed_mps: float = 12.0
    max_climb_mps: float = 4.0
    max_descent_mps: float = 2.5
    max_turn_rate_dps: float = 60.0
    max_accel_mps2: float = 3.0
    max_vert_accel_mps2: float = 2.5
    battery_capacity_wh: float = 120.0
    hover_power_w: float = 320.0
    speed_power_w_per_mps: float = 6.0
    climb_power_w_per_mps: float = 40.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"vehicle limit {name} must be > 0, got {value}")


@dataclass(frozen=True)
class Wind:
    """A constant wind, as the velocity of the air (m/s east and north)."""

    east_mps: float = 0.0
    north_mps: float = 0.0

    @classmethod
    def from_direction(cls, speed_mps: float, from_deg: float) -> Wind:
        """Return a wind of ``speed_mps`` blowing *from* ``from_deg`` (as METARs)."""
        to_rad = math.radians(from_deg + 180.0)
        return cls(speed_mps * math.sin(to_rad), speed_mps * math.cos(to_rad))


@dataclass(frozen=True)
class Setpoint:
    """The ground velocity the autopilot wants (m/s east, north, up)."""

    east_mps: float = 0.0
    north_mps: float = 0.0
    up_mps: float = 0.0


HOLD = Setpoint()


@dataclass(frozen=True)
class VehicleState:
    """Where the vehicle is and how it moves; ``energy_wh`` left in the battery."""

    x_m: float
    y_m: float
    alt_m: float
    heading_deg: float = 0.0
    """Where the nose points, 0-360 deg clockwise from north."""
    air_east_mps: float = 0.0
    air_north_mps: float = 0.0
    """Horizontal velocity through the air."""
    vz_mps: float = 0.0
    """Vertical speed, up positive."""
    energy_wh: float = 0.0
    ground_east_mps: float = 0.0
    ground_north_mps: float = 0.0
    turn_rate_dps: float = 0.0
    """The heading change of the last step, per second (for roll and yaw rate)."""
    accel_mps2: float = 0.0
    """The airspeed change of the last step, per second (for pitch)."""

    @property
    def speed_mps(self) -> float:
        """Return the horizontal airspeed."""
        return math.hypot(self.air_east_mps, self.air_north_mps)

    @property
    def ground_speed_mps(self) -> float:
        """Return the horizontal speed over the ground."""
        return math.hypot(self.ground_east_mps, self.ground_north_mps)

    @property
    def course_deg(self) -> float:
        """Return the direction of travel over the ground, 0-360 deg from north."""
        if self.ground_speed_mps < SLOW_MPS:
            return self.heading_deg
        angle = math.degrees(math.atan2(self.ground_east_mps, self.ground_north_mps))
        return angle % 360.0


def wrap_deg(angle_deg: float) -> float:
    """Return ``angle_deg`` wrapped into [-180, 180)."""
    return (angle_deg + 180.0) % 360.0 - 180.0


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _bearing_deg(east: float, north: float) -> float:
    return math.degrees(math.atan2(east, north)) % 360.0


def _air_velocity(
    state: VehicleState, want_e: float, want_n: float, dt_s: float, limits: Limits
) -> tuple[float, float]:
    """Return the new air velocity, limited in speed, acceleration and turn rate."""
    want_speed = min(math.hypot(want_e, want_n), limits.max_speed_mps)
    speed = state.speed_mps
    max_dv = limits.max_accel_mps2 * dt_s
    if speed < SLOW_MPS:
        # Hovering or creeping: a multicopter moves in any direction at once.
        if want_speed > 0:
            scale = want_speed / math.hypot(want_e, want_n)
            want_e, want_n = want_e * scale, want_n * scale
        de, dn = want_e - state.air_east_mps, want_n - state.air_north_mps
        change = math.hypot(de, dn)
        if change > max_dv:
            de, dn = de * max_dv / change, dn * max_dv / change
        return state.air_east_mps + de, state.air_north_mps + dn
    # Under way: turn the velocity at the turn rate, slowing while far off course.
    direction = _bearing_deg(state.air_east_mps, state.air_north_mps)
    if want_speed > 0:
        error = wrap_deg(_bearing_deg(want_e, want_n) - direction)
        if abs(error) >= 90.0:
            want_speed = 0.0  # brake along the line first, then go the new way
        else:
            max_turn = limits.max_turn_rate_dps * dt_s
            direction += _clamp(error, -max_turn, max_turn)
            error = wrap_deg(_bearing_deg(want_e, want_n) - direction)
            want_speed *= math.cos(math.radians(error))
    new_speed = speed + _clamp(want_speed - speed, -max_dv, max_dv)
    new_speed = _clamp(new_speed, 0.0, limits.max_speed_mps)
    rad = math.radians(direction)
    return new_speed * math.sin(rad), new_speed * math.cos(rad)


def power_w(state: VehicleState, limits: Limits, motors_on: bool) -> float:
    """Return the electrical power drawn in ``state`` (0 with the motors off)."""
    if not motors_on:
        return 0.0
    return (
        limits.hover_power_w
        + limits.speed_power_w_per_mps * state.speed_mps
        + limits.climb_power_w_per_mps * max(state.vz_mps, 0.0)
    )


def step(
    state: VehicleState,
    setpoint: Setpoint,
    dt_s: float,
    limits: Limits,
    wind: Wind,
    ground_alt_m: float,
    motors_on: bool,
) -> VehicleState:
    """Return the state ``dt_s`` seconds on, flying toward ``setpoint``.

    ``ground_alt_m`` (metres AMSL) is the floor the vehicle stands on: it drifts with
    the wind only above it. With ``motors_on`` False the vehicle stays put and its
    battery does not drain.
    """
    if not motors_on:
        return replace(
            state,
            air_east_mps=0.0,
            air_north_mps=0.0,
            vz_mps=0.0,
            ground_east_mps=0.0,
            ground_north_mps=0.0,
            turn_rate_dps=0.0,
            accel_mps2=0.0,
        )
    airborne = state.alt_m > ground_alt_m + _ON_GROUND_M or setpoint.up_mps > 0
    wind_e, wind_n = (wind.east_mps, wind.north_mps) if airborne else (0.0, 0.0)
    # The air velocity that gives the wanted ground velocity in this wind.
    air_e, air_n = _air_velocity(
        state, setpoint.east_mps - wind_e, setpoint.north_mps - wind_n, dt_s, limits
    )
    speed = math.hypot(air_e, air_n)

    # The nose follows the air velocity once under way, at the turn rate.
    heading = state.heading_deg
    if speed >= SLOW_MPS:
        max_turn = limits.max_turn_rate_dps * dt_s
        error = wrap_deg(_bearing_deg(air_e, air_n) - heading)
        heading = (heading + _clamp(error, -max_turn, max_turn)) % 360.0

    want_vz = _clamp(setpoint.up_mps, -limits.max_descent_mps, limits.max_climb_mps)
    max_dvz = limits.max_vert_accel_mps2 * dt_s
    vz = state.vz_mps + _clamp(want_vz - state.vz_mps, -max_dvz, max_dvz)
    vz = _clamp(vz, -limits.max_descent_mps, limits.max_climb_mps)
    alt = state.alt_m + vz * dt_s
    if alt <= ground_alt_m:
        # Touching down stops the fall, and the wind cannot push a landed vehicle.
        alt, vz = ground_alt_m, max(vz, 0.0)
        wind_e = wind_n = 0.0
    ground_e, ground_n = air_e + wind_e, air_n + wind_n

    moved = VehicleState(
        x_m=state.x_m + ground_e * dt_s,
        y_m=state.y_m + ground_n * dt_s,
        alt_m=alt,
        heading_deg=heading,
        air_east_mps=air_e,
        air_north_mps=air_n,
        vz_mps=vz,
        energy_wh=state.energy_wh,
        ground_east_mps=ground_e,
        ground_north_mps=ground_n,
        turn_rate_dps=wrap_deg(heading - state.heading_deg) / dt_s,
        accel_mps2=(speed - state.speed_mps) / dt_s,
    )
    drained = power_w(moved, limits, motors_on) * dt_s / 3600.0
    return replace(moved, energy_wh=max(0.0, state.energy_wh - drained))
