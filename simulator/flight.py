"""The autopilot: flight modes and the guidance that turns a plan into setpoints.

Modes follow what an ArduCopter reports (``custom_mode`` values in
``ARDUCOPTER_MODE``): on the pad and disarmed (``WAITING``), ``TAKEOFF`` straight up
to the cruise altitude, ``MISSION`` along the plan's waypoints, ``RTL`` (climb to a
safe height, fly home, land) and ``LAND`` (straight down where it is), then
``LANDED`` and disarmed. A ground station's return-to-launch or land command, or a
battery failsafe, switches modes at any time in the air.

Guidance follows each leg with a look-ahead point on the leg (so a drone pushed off
the line, by a turn or a scenario, flies back onto it) and slows before the points
where it must stop. Scenarios steer through two overrides: ``deviate`` (fly to a
point, hold, rejoin the plan) and ``bust_altitude`` (hold another altitude for a
while). Pure: the caller advances time with ``step``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from simulator.kinematics import HOLD, Limits, Setpoint, VehicleState, Wind, step
from simulator.routes import FlightPlan, Waypoint

LOOKAHEAD_MIN_M = 8.0
LOOKAHEAD_S = 1.5
"""The look-ahead point is this many seconds of flight ahead, at least the minimum."""
POSITION_GAIN_PER_S = 0.8
"""Velocity per metre of position error when holding a point."""
STOP_RADIUS_M = 1.0
RTL_MIN_AGL_M = 15.0
LAND_FINAL_MPS = 0.6
"""Descent speed for the last metres of a landing."""
ALT_REACHED_M = 0.5


class FlightMode(enum.StrEnum):
    """Where the autopilot is in its flight."""

    WAITING = "waiting"
    TAKEOFF = "takeoff"
    MISSION = "mission"
    RTL = "rtl"
    LAND = "land"
    LANDED = "landed"
    LOITER = "loiter"


ARDUCOPTER_MODE: dict[FlightMode, int] = {
    FlightMode.WAITING: 5,  # LOITER, disarmed on the pad
    FlightMode.TAKEOFF: 3,  # AUTO
    FlightMode.MISSION: 3,  # AUTO
    FlightMode.RTL: 6,
    FlightMode.LAND: 9,
    FlightMode.LOITER: 5,
    FlightMode.LANDED: 5,
}
"""ArduCopter ``custom_mode`` numbers reported in HEARTBEAT."""


@dataclass(frozen=True)
class _Deviation:
    target_xy: tuple[float, float]
    speed_mps: float
    hold_s: float


@dataclass(frozen=True)
class _AltitudeHold:
    alt_m: float
    hold_s: float


def _hypot(dx: float, dy: float) -> float:
    return math.hypot(dx, dy)


class FlightController:
    """One vehicle's autopilot and airframe, flying ``plan``.

    ``energy_wh`` is the charge at take-off (default: a full battery);
    ``start_xy`` where it stands (default: the plan's take-off pad).
    """

    def __init__(
        self,
        plan: FlightPlan,
        limits: Limits,
        wind: Wind,
        cruise_speed_mps: float = 10.0,
        energy_wh: float | None = None,
        start_xy: tuple[float, float] | None = None,
    ) -> None:
        self.plan = plan
        self.limits = limits
        self.wind = wind
        self.cruise_speed_mps = min(cruise_speed_mps, limits.max_speed_mps)
        x, y = start_xy or plan.takeoff_xy
        self.state = VehicleState(
            x_m=x,
            y_m=y,
            alt_m=plan.ground_alt_m,
            energy_wh=limits.battery_capacity_wh if energy_wh is None else energy_wh,
        )
        self.mode = FlightMode.WAITING
        self.home_xy = (x, y)
        """Where it took off from: return-to-launch lands here."""
        self.flight_time_s = 0.0
        """Seconds since take-off (0 until then)."""
        self._leg = 0
        self._leg_start: tuple[float, float, float] = (x, y, plan.ground_alt_m)
        self._hold_left_s: float | None = None
        self._land_xy = plan.landing_xy
        self._rtl_alt_m = plan.cruise_alt_m
        self._loiter_at = (plan.takeoff_xy[0], plan.takeoff_xy[1], plan.cruise_alt_m)
        self._deviation: _Deviation | None = None
        self._deviation_hold_left_s: float | None = None
        self._alt_hold: _AltitudeHold | None = None
        self._alt_hold_left_s: float | None = None

    # --- what others read -------------------------------------------------------

    @property
    def armed(self) -> bool:
        """Return True while the motors run (take-off to touch-down)."""
        return self.mode not in (FlightMode.WAITING, FlightMode.LANDED)

    @property
    def battery_fraction(self) -> float:
        """Return the charge left, 0-1."""
        return self.state.energy_wh / self.limits.battery_capacity_wh

    @property
    def height_m(self) -> float:
        """Return the height above the pads."""
        return self.state.alt_m - self.plan.ground_alt_m

    @property
    def on_corridor_leg(self) -> bool:
        """Return True when following a leg along the corridor, not deviating."""
        return (
            self.mode is FlightMode.MISSION
            and self._deviation is None
            and self._leg < len(self.plan.waypoints)
            and self.plan.waypoints[self._leg].in_corridor
        )

    @property
    def deviating(self) -> bool:
        """Return True while a scenario's deviation or altitude hold is under way."""
        return self._deviation is not None or self._alt_hold is not None

    # --- commands -----------------------------------------------------------------

    def take_off(self) -> bool:
        """Arm and climb; False when not waiting on the pad."""
        if self.mode is not FlightMode.WAITING:
            return False
        self.mode = FlightMode.TAKEOFF
        return True

    def return_to_launch(self) -> bool:
        """Fly home and land there; False on the ground."""
        if not self.armed:
            return False
        self._cancel_overrides()
        self.mode = FlightMode.RTL
        self._rtl_alt_m = max(self.state.alt_m, self.plan.ground_alt_m + RTL_MIN_AGL_M)
        self._land_xy = self.home_xy
        return True

    def loiter(self) -> bool:
        """Hold the position and altitude where the vehicle is; False on the ground."""
        if not self.armed:
            return False
        self._cancel_overrides()
        self.mode = FlightMode.LOITER
        self._loiter_at = (self.state.x_m, self.state.y_m, self.state.alt_m)
        return True

    def land(self) -> bool:
        """Land where the vehicle is; False on the ground."""
        if not self.armed:
            return False
        self._cancel_overrides()
        self.mode = FlightMode.LAND
        self._land_xy = (self.state.x_m, self.state.y_m)
        return True

    def deviate(
        self, target_xy: tuple[float, float], speed_mps: float, hold_s: float
    ) -> None:
        """Leave the plan for ``target_xy`` at ``speed_mps``, hold, then rejoin."""
        self._deviation = _Deviation(target_xy, speed_mps, hold_s)
        self._deviation_hold_left_s = None

    def bust_altitude(self, alt_m: float, hold_s: float) -> None:
        """Fly at ``alt_m`` (AMSL) for ``hold_s`` once reached, then back to plan."""
        self._alt_hold = _AltitudeHold(alt_m, hold_s)
        self._alt_hold_left_s = None

    def _cancel_overrides(self) -> None:
        self._deviation = None
        self._alt_hold = None

    # --- time -----------------------------------------------------------------------

    def step(self, dt_s: float) -> None:
        """Advance ``dt_s`` seconds."""
        setpoint = self._guidance(dt_s)
        self.state = step(
            self.state,
            setpoint,
            dt_s,
            self.limits,
            self.wind,
            self.plan.ground_alt_m,
            motors_on=self.armed,
        )
        if self.armed:
            self.flight_time_s += dt_s
        if self.mode is FlightMode.LAND and self.height_m <= 0.01:
            self.mode = FlightMode.LANDED

    def _guidance(self, dt_s: float) -> Setpoint:
        match self.mode:
            case FlightMode.WAITING | FlightMode.LANDED:
                return HOLD
            case FlightMode.TAKEOFF:
                return self._takeoff()
            case FlightMode.MISSION:
                return self._mission(dt_s)
            case FlightMode.RTL:
                return self._rtl()
            case FlightMode.LAND:
                return self._landing()
            case FlightMode.LOITER:
                x, y, alt = self._loiter_at
                return Setpoint(*self._hold_xy((x, y)), self._vertical(alt))

    def _takeoff(self) -> Setpoint:
        east, north = self._hold_xy(self.home_xy)
        up = self._vertical(self.plan.cruise_alt_m)
        if abs(self.plan.cruise_alt_m - self.state.alt_m) < ALT_REACHED_M:
            self.mode = FlightMode.MISSION
            s = self.state
            self._leg_start = (s.x_m, s.y_m, s.alt_m)
        return Setpoint(east, north, up)

    def _mission(self, dt_s: float) -> Setpoint:
        if self._leg >= len(self.plan.waypoints):
            self.mode = FlightMode.LAND
            return self._landing()
        wp = self.plan.waypoints[self._leg]
        alt_target = wp.alt_m
        if self._alt_hold is not None:
            alt_target = self._alt_hold.alt_m
            if self._alt_hold_left_s is None:
                if abs(self.state.alt_m - alt_target) < ALT_REACHED_M:
                    self._alt_hold_left_s = self._alt_hold.hold_s
            else:
                self._alt_hold_left_s -= dt_s
                if self._alt_hold_left_s <= 0:
                    self._alt_hold = None
        up = self._vertical(alt_target)
        if self._deviation is not None:
            return Setpoint(*self._deviation_velocity(self._deviation, dt_s), up)
        stop_here = wp.hold_s > 0 or self._leg == len(self.plan.waypoints) - 1
        east, north, reached = self._follow_leg(wp, stop_here)
        if reached:
            if stop_here:
                if self._hold_left_s is None:
                    self._hold_left_s = wp.hold_s
                self._hold_left_s -= dt_s
                if self._hold_left_s > 0:
                    return Setpoint(east, north, up)
                self._hold_left_s = None
            self._leg_start = (wp.x_m, wp.y_m, wp.alt_m)
            self._leg += 1
        return Setpoint(east, north, up)

    def _deviation_velocity(self, dev: _Deviation, dt_s: float) -> tuple[float, float]:
        x, y = dev.target_xy
        dx, dy = x - self.state.x_m, y - self.state.y_m
        distance = _hypot(dx, dy)
        if self._deviation_hold_left_s is None and distance < STOP_RADIUS_M * 2:
            self._deviation_hold_left_s = dev.hold_s
        if self._deviation_hold_left_s is not None:
            self._deviation_hold_left_s -= dt_s
            if self._deviation_hold_left_s <= 0:
                # Rejoin the plan: the current leg now starts where the drone is.
                self._deviation = None
                s = self.state
                self._leg_start = (s.x_m, s.y_m, s.alt_m)
            return self._hold_xy(dev.target_xy)
        speed = min(dev.speed_mps, self._stopping_speed(distance))
        return dx / distance * speed, dy / distance * speed

    def _follow_leg(self, wp: Waypoint, stop_here: bool) -> tuple[float, float, bool]:
        """Return the ground velocity along the leg and whether ``wp`` is reached."""
        ax, ay, _ = self._leg_start
        px, py = self.state.x_m, self.state.y_m
        dx, dy = wp.x_m - ax, wp.y_m - ay
        length = _hypot(dx, dy)
        to_wp = _hypot(wp.x_m - px, wp.y_m - py)
        if length < 1e-6:
            along, aim = 0.0, (wp.x_m, wp.y_m)
        else:
            along = min(max(((px - ax) * dx + (py - ay) * dy) / length, 0.0), length)
            ahead = max(LOOKAHEAD_MIN_M, self.state.speed_mps * LOOKAHEAD_S)
            reach = min(along + ahead, length)
            aim = (ax + dx * reach / length, ay + dy * reach / length)
        if stop_here:
            if to_wp < STOP_RADIUS_M and self.state.ground_speed_mps < 0.5:
                return *self._hold_xy((wp.x_m, wp.y_m)), True
            speed = min(self.cruise_speed_mps, self._stopping_speed(to_wp))
        else:
            accept_m = max(2.0, self.state.speed_mps * 0.8)
            if length - along <= accept_m or to_wp <= accept_m:
                return *self._toward(aim, self.cruise_speed_mps), True
            speed = self.cruise_speed_mps
        return *self._toward(aim, speed), False

    def _toward(self, aim: tuple[float, float], speed: float) -> tuple[float, float]:
        dx, dy = aim[0] - self.state.x_m, aim[1] - self.state.y_m
        distance = _hypot(dx, dy)
        if distance < 1e-6:
            return 0.0, 0.0
        return dx / distance * speed, dy / distance * speed

    def _stopping_speed(self, distance_m: float) -> float:
        """Return the speed from which the vehicle can stop within ``distance_m``."""
        brake = 0.5 * self.limits.max_accel_mps2
        return min(
            math.sqrt(2.0 * brake * distance_m), POSITION_GAIN_PER_S * distance_m
        )

    def _hold_xy(self, target: tuple[float, float]) -> tuple[float, float]:
        """Return the ground velocity that brings the vehicle to ``target``."""
        dx, dy = target[0] - self.state.x_m, target[1] - self.state.y_m
        distance = _hypot(dx, dy)
        if distance < 1e-3:
            return 0.0, 0.0
        speed = min(self._stopping_speed(distance), 3.0)
        return dx / distance * speed, dy / distance * speed

    def _vertical(self, alt_target_m: float) -> float:
        error = alt_target_m - self.state.alt_m
        brake = 0.5 * self.limits.max_vert_accel_mps2
        speed = min(math.sqrt(2.0 * brake * abs(error)), 1.5 * abs(error))
        return math.copysign(speed, error)

    def _rtl(self) -> Setpoint:
        up = self._vertical(self._rtl_alt_m)
        if self.state.alt_m < self._rtl_alt_m - 2.0:
            return Setpoint(*self._hold_xy((self.state.x_m, self.state.y_m)), up)
        hx, hy = self.home_xy
        to_home = _hypot(hx - self.state.x_m, hy - self.state.y_m)
        if to_home < STOP_RADIUS_M and self.state.ground_speed_mps < 0.5:
            self.mode = FlightMode.LAND
            return self._landing()
        speed = min(self.cruise_speed_mps, self._stopping_speed(to_home))
        return Setpoint(*self._toward(self.home_xy, speed), up)

    def _landing(self) -> Setpoint:
        east, north = self._hold_xy(self._land_xy)
        height = self.height_m
        down = min(self.limits.max_descent_mps, max(LAND_FINAL_MPS, 0.4 * height))
        return Setpoint(east, north, -down)
